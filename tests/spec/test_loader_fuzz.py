"""Mutated Kargo examples: the loader reads each one or raises ManifestError, and never hangs.

Each case starts from one example (its files joined into one stream, so that some mutants
still load) and applies a few random edits: lines deleted or repeated, characters swapped,
YAML tags, anchors, aliases, merge keys, deep nesting, alias bombs and values of the wrong
type. The generator is seeded, so a failure names a case that can be replayed.
"""

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from kargo_dagster.errors import ManifestError, ManifestProblem
from kargo_dagster.spec import load_manifests
from tests.hang_alarm import hang_alarm

FIXTURES = Path(__file__).parent.parent / "fixtures"
EXAMPLES = [
    FIXTURES / "kargo-examples" / "akuity" / "kargo-simple" / "kargo",
    FIXTURES / "kargo-examples" / "akuity" / "kargo-advanced" / "kargo",
    FIXTURES / "kargo-examples" / "krancour" / "kargo-examples" / "03-features" / "v1.10.0",
    FIXTURES / "kargo-examples" / "krancour" / "kargo-examples" / "01-argocd-driven",
    FIXTURES / "pipelines" / "shop",
]
SEEDS = range(4)
CASES_PER_SEED = 300  # a few milliseconds each: the four seeds take seconds
HANG = 10  # seconds after which a load counts as hung and is interrupted

TAGS = [
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!str",
    "!!binary",
    "!!timestamp",
    "!!map",
    "!!seq",
    "!!set",
    "!!omap",
    "!!pairs",
    "!!merge",
    "!!python/object:os.system",
    "!!python/name:builtins.eval",
    "!!python/tuple",
    "!custom",
    "!",
]
WRONG_VALUES = ["1", "-0x1F", "1.5e3", ".nan", "true", "yes", "~", "", "[]", "{}", "[a, 1]"]
WRONG_VALUES += ["{a: b}", "'quoted'", '"\\u263A"', "0o17", "1:30", "2001-12-14", "<<", "|"]
NOISE = [*":-[]{},#&*!|>%@`'\"?\t ", "\n", "  ", "---\n", "...\n"]


def _examples() -> list[str]:
    texts: list[str] = []
    for folder in EXAMPLES:
        files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml"))
        texts.append("---\n".join(p.read_text(encoding="utf-8") for p in files))
    return texts


def _line_and_value(lines: list[str], rng: random.Random) -> tuple[int, int] | None:
    """A line holding ``key: value`` and where its value starts, if any line does."""
    candidates = [i for i, line in enumerate(lines) if ": " in line]
    if not candidates:
        return None
    index = rng.choice(candidates)
    return index, lines[index].index(": ") + 2


def _delete_line(lines: list[str], rng: random.Random) -> None:
    if lines:
        del lines[rng.randrange(len(lines))]


def _repeat_line(lines: list[str], rng: random.Random) -> None:
    if lines:
        index = rng.randrange(len(lines))
        lines.insert(index, lines[index])


def _swap_characters(lines: list[str], rng: random.Random) -> None:
    index = rng.randrange(len(lines)) if lines else None
    if index is not None and len(lines[index]) > 1:
        line = lines[index]
        at = rng.randrange(len(line) - 1)
        lines[index] = line[:at] + line[at + 1] + line[at] + line[at + 2 :]


def _insert_noise(lines: list[str], rng: random.Random) -> None:
    if lines:
        index = rng.randrange(len(lines))
        line = lines[index]
        at = rng.randint(0, len(line))
        lines[index] = line[:at] + rng.choice(NOISE) + line[at:]


def _tag_value(lines: list[str], rng: random.Random) -> None:
    found = _line_and_value(lines, rng)
    if found is not None:
        index, at = found
        line = lines[index]
        lines[index] = f"{line[:at]}{rng.choice(TAGS)} {line[at:]}"


def _wrong_value(lines: list[str], rng: random.Random) -> None:
    found = _line_and_value(lines, rng)
    if found is not None:
        index, at = found
        lines[index] = lines[index][:at] + rng.choice(WRONG_VALUES)


def _anchor_and_alias(lines: list[str], rng: random.Random) -> None:
    first, second = _line_and_value(lines, rng), _line_and_value(lines, rng)
    if first is None or second is None:
        return
    (index, at), (other, other_at) = sorted([first, second])
    line = lines[index]
    lines[index] = f"{line[:at]}&x {line[at:]}"
    if other != index:
        lines[other] = lines[other][:other_at] + "*x"


def _merge_key(lines: list[str], rng: random.Random) -> None:
    found = _line_and_value(lines, rng)
    if found is None:
        return
    index, _ = found
    indent = " " * (len(lines[index]) - len(lines[index].lstrip()))
    source = rng.choice(["{name: merged, namespace: demo}", "*x", "[*x, {a: 1}]", "3", "[1]"])
    lines.insert(index + rng.choice([0, 1]), f"{indent}<<: {source}")
    if source.startswith(("*", "[*")):
        _anchor_and_alias(lines, rng)  # sometimes defines x before the merge, often not


def _deep_nesting(lines: list[str], rng: random.Random) -> None:
    found = _line_and_value(lines, rng)
    if found is None:
        return
    index, at = found
    depth = rng.choice([5, 50, 99, 101, 400, 2000])
    opening, closing = rng.choice([("[", "]"), ("{a: ", "}")])
    lines[index] = lines[index][:at] + opening * depth + "1" + closing * depth


def _alias_bomb(lines: list[str], rng: random.Random) -> None:
    width, levels = rng.choice([(2, 8), (9, 6), (10, 9)])
    bomb = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    bomb += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]" for n in range(1, levels)]
    at = rng.randrange(len(lines) + 1)
    lines[at:at] = ["---", *bomb, "---"]


MUTATIONS: list[Callable[[list[str], random.Random], None]] = [
    _delete_line,
    _repeat_line,
    _swap_characters,
    _insert_noise,
    _tag_value,
    _wrong_value,
    _anchor_and_alias,
    _merge_key,
    _deep_nesting,
    _alias_bomb,
]


def _mutant(text: str, rng: random.Random) -> tuple[str, list[str]]:
    lines = text.splitlines()
    applied: list[str] = []
    for _ in range(rng.randint(1, 4)):
        mutation = rng.choice(MUTATIONS)
        mutation(lines, rng)
        applied.append(mutation.__name__)
    return "\n".join(lines) + "\n", applied


def _load(path: Path) -> list[ManifestProblem]:
    """The problems loading ``path`` reports; any other exception fails the test."""
    try:
        load_manifests(path, warnings=[])
    except ManifestError as error:
        return error.problems
    return []


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_examples_load_or_raise_manifest_error(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    examples = _examples()
    # A fixed number of cases, not a time window, and no limit on each load's time but the
    # hang alarm: what the test asserts must not depend on how busy the machine is.
    for number in range(CASES_PER_SEED):
        text, applied = _mutant(rng.choice(examples), rng)
        path = tmp_path / f"case-{number}.yaml"
        path.write_text(text, encoding="utf-8")
        with hang_alarm(HANG, f"loading {path}"):
            problems = _load(path)
        case = f"seed {seed}, case {number} ({', '.join(applied)}): {path}"
        for problem in problems:
            assert problem.file == str(path), f"{case}: {problem}"
            assert problem.line >= 1, f"{case}: {problem}"
            assert problem.message, f"{case}: {problem}"
        path.unlink()

"""Reading YAML documents: the same data, lines and problems as ruamel.yaml's round-trip mode.

The manifests were read with ruamel.yaml's round-trip loader before PyYAML's C parser took
over; ``_reference`` below is that reader (only made to follow merge keys, where it used to
fail), and the tests compare the two on every manifest of the repository and on YAML written
to probe each rule.
"""

import math
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, CommentedSet, TaggedScalar
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from kargo_dagster.spec import locations
from kargo_dagster.spec.locations import Document, FieldPath, read_documents

ROOT = Path(__file__).parent.parent.parent
MANIFESTS = sorted(
    path
    for folder in (ROOT / "stages", ROOT / "tests" / "fixtures")
    for path in folder.rglob("*")
    # Helm chart templates are Go templates that render to YAML, not YAML.
    if path.suffix in (".yaml", ".yml") and "templates" not in path.parts
)


class _StringTimestamps(RoundTripConstructor):
    """Unquoted timestamps stay text, as the manifest reader configured ruamel.yaml."""


_StringTimestamps.add_constructor(
    "tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str
)


def _reference(text: str, file: str) -> tuple[list[Document], list[str]]:
    """The documents and problem messages ruamel.yaml's round-trip loader gives."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _StringTimestamps
    documents: list[Document] = []
    problems: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a reused anchor only warns
        stream = yaml.load_all(text)
        while True:
            try:
                raw = next(stream)
            except StopIteration:
                break
            except YAMLError as exc:
                problems.append(_reference_problem(file, exc))
                break
            if raw is None:
                continue
            lines: dict[FieldPath, int] = {}
            data = _plain(raw, (), lines)
            start = raw.lc.line + 1 if isinstance(raw, CommentedMap | CommentedSeq) else 1
            documents.append(Document(file=file, line=start, data=data, lines=lines))
    return documents, problems


def _reference_problem(file: str, exc: YAMLError) -> str:
    line = 1
    detail = " ".join(str(exc).split())
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            line = mark.line + 1
        detail = str(exc.problem or exc.context or "unreadable document")
        if exc.problem and exc.context:
            where = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            detail = f"{exc.problem} ({exc.context}{where})"
    return (
        f"{file}:{line}: (document): invalid YAML: {detail}; fix the indentation, quoting or "
        "punctuation there"
    )


def _key_line(node: CommentedMap, key: Any) -> int:
    if key in (node.lc.data or {}):
        return node.lc.key(key)[0] + 1
    # A merged key: the line where the mapping it came from has it.
    for merged in node.merge:
        if key in merged:
            return _key_line(merged, key)
    raise KeyError(key)


def _plain(node: Any, path: FieldPath, lines: dict[FieldPath, int]) -> Any:
    if isinstance(node, CommentedMap):
        result: dict[Any, Any] = {}
        for key, value in node.items():
            child = (*path, str(key))
            lines[child] = _key_line(node, key)
            result[_scalar(key)] = _plain(value, child, lines)
        return result
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, value in enumerate(node):
            child = (*path, index)
            lines[child] = node.lc.item(index)[0] + 1
            items.append(_plain(value, child, lines))
        return items
    return _scalar(node)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, ScalarBoolean):
        return bool(value)
    if isinstance(value, TaggedScalar):
        # An explicit tag ruamel.yaml had no type for (!!str, !custom): the text.
        return value.value
    if isinstance(value, CommentedSet):
        return set(value)
    if isinstance(value, tuple):  # a list used as a key
        return tuple(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _typed(value: Any) -> Any:
    """``value`` with types and key order made visible (``1 == 1.0 == True`` in Python)."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_typed(v) for v in value])
    if isinstance(value, set):
        return ("set", sorted(repr(_typed(v)) for v in value))
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    return (type(value).__name__, value)


def _same_as_reference(text: str) -> tuple[list[Document], list[str]]:
    documents, problems = read_documents(text, "f.yaml")
    expected_documents, expected_problems = _reference(text, "f.yaml")
    # ruamel.yaml printed some tokens as a tuple: "but found ('<block mapping start>',)".
    expected_problems = [re.sub(r"\(('[^']*'),\)", r"\1", p) for p in expected_problems]
    assert [str(p) for p in problems] == expected_problems
    assert [(d.file, d.line, d.lines) for d in documents] == [
        (d.file, d.line, d.lines) for d in expected_documents
    ]
    assert [_typed(d.data) for d in documents] == [_typed(d.data) for d in expected_documents]
    return documents, [str(p) for p in problems]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_manifest_reads_as_ruamel_read_it(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    documents, problems = _same_as_reference(text)
    assert documents
    assert not problems


def test_the_manifests_are_many() -> None:
    assert len(MANIFESTS) >= 20


SCALARS = """\
booleans: [true, True, TRUE, false, False, FALSE, tRue]
yaml11_words: [yes, no, on, off, y, n, Yes, NO, On, OFF]
integers: [0, 7, -7, +7, 017, 09, 0o17, 0o0, 0x1F, 0x1f, -0x1F, 0b101, 1_000, 1__0_, -_1, 0_7]
floats: [1.5, -1.5, 1., .5, -.5, 1e3, 1E3, 1.5e-3, 1_0.5, .inf, -.inf, +.inf, .Inf, .NaN, .nan]
not_floats: [1e, e3, .inf0, +.nan, 1.5.0, 0X1F, 0B1, 0O17, 1:30, 1:30.5, 12:30:00]
nulls: [~, null, Null, NULL, nULL, ]
empty:
timestamps: [2001-12-14, 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10 -5]
quoted: ['true', "1", '~', "null", '0o17', "<<", ''] 
text: [hello, a b, 'a: b', "tab\\there", "\\x41\\u00e9", a#b, "http://x:1/y", -dash, "::1"]
merge_like_values: [<<, =, '=']
"""


def test_scalars_resolve_as_yaml_1_2_core() -> None:
    (document,), _ = _same_as_reference(SCALARS)
    data = document.data
    assert data["booleans"] == [True, True, True, False, False, False, "tRue"]
    assert data["yaml11_words"] == ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF"]
    assert data["integers"][4:10] == [17, 9, 15, 0, 31, 31]
    assert data["integers"][12] == 1000
    assert data["nulls"] == [None, None, None, None, "nULL"]
    assert data["empty"] is None
    assert all(isinstance(t, str) for t in data["timestamps"])
    assert data["quoted"] == ["true", "1", "~", "null", "0o17", "<<", ""]


BLOCKS = """\
literal: |
  one
    two

keep: |+
  kept

strip: |-
  stripped
folded: >
  folded
  text

  paragraph
    indented
indicator: |2
    two extra
plain: a
  continued
  line
quoted: "a
  b \\
  c"
single: 'it''s
  here'
"""


def test_block_and_multi_line_scalars() -> None:
    _same_as_reference(BLOCKS)


STRUCTURE = """\
# A comment
apiVersion: v1 # trailing
kind: Thing
metadata: {name: x, labels: {a: b}, list: [1, [2, 3], {c: d}]}
spec:
  - a
  -
  - - nested
    - list
  - key: value
    other: 1
  - ? complex
    : value
  - [flow, seq]
  - {}
  - []
  - ""
keys:
  2: int
  1.5: float
  1e3: exponent
  .inf: infinity
  true: bool
  ~: null key
  0x10: hex
  ? [a, b]
  : list key
"""


def test_structure_and_key_types() -> None:
    (document,), _ = _same_as_reference(STRUCTURE)
    assert document.line_of(("spec", 3, "other")) == 11
    assert document.data["keys"][("a", "b")] == "list key"


@pytest.mark.parametrize(
    "text",
    [
        # Anchors, aliases and their lines (an alias has the lines of what it names).
        "a: &x\n  k: 1\n  l: [1, 2]\nb: *x\nc:\n- &y v\n- *y\n- &z {m: n}\n- *z\n",
        # A reused anchor: the latest definition wins.
        "a: &x 1\nb: &x 2\nc: *x\n",
        # A collection that contains itself.
        "a: &a [*a, 1]\nb: &b {c: *b}\n",
        # Merge keys: own keys win, then earlier merged mappings over later ones.
        "base: &b\n  x: 1\n  y: 2\nm:\n  <<: *b\n  y: 3\n  z: 4\n",
        "a: &a {x: 1}\nb: &b {x: 2, y: 2}\nm:\n  z: 1\n  <<: [*a, *b]\n",
        "m:\n  y: 3\n  <<: {y: 1, q: {deep: [1, 2]}}\n",
        "- &a {k: v}\n- <<: *a\n  k2: v\n- <<: {<<: *a, j: 1}\n",
        "- &a {k: v}\n- '<<': *a\n",
        # Documents: empty ones, markers, scalars and lists at the top.
        "---\n---\na: 1\n...\n---\n# only a comment\n---\n~\n---\nb: 2\n",
        "--- hello\n--- 5\n--- false\n---\n- a\n- b\n",
        "\n\n--- &top\na: 1\n--- !!map\nb: 1\n--- !custom\nc: 1\n",
        # A YAML 1.1 directive changes the rules, for the rest of the stream.
        "%YAML 1.1\n---\na: [yes, off, 017, 1:30, 1:30.5, 0b11, 09, 1_0]\n---\nb: yes\n",
        "%YAML 1.1\n---\na: yes\n...\n%YAML 1.2\n---\nb: yes\n",
        "%YAML 1.2\n---\na: yes\n",
        # Explicit tags.
        "a: !!int '12'\nb: !!float 1\nc: !!bool 'yes'\nd: !!null x\ne: !!binary aGVsbG8=\n"
        "f: !!int 0x1F\ng: !<tag:yaml.org,2002:str> 5\nh: ! 5\ni: ! '5'\n",
        "a: !!str 12\nb: !custom text\nc: !!timestamp 2001-01-01\nd: !custom {x: 1}\n",
        "%TAG !e! tag:example.com,2000:\n---\na: !e!thing 1\n",
        "a: !!set {x, y}\nb: !!pairs [{a: 1}, {a: 2}]\n",
        # Text the scanner takes care with.
        '\ufeffa: "\\x41\\t\\u263A\\U0001F600"\nb: "line\\\n  joined"\n',
        "a: 1\r\nb:\r\n- 2\r\n",
        "a: [http://x:1, {b:c}]\nb: -1\nc: - 1\n",
    ],
)
def test_reads_as_ruamel_read_it(text: str) -> None:
    _same_as_reference(text)


@pytest.mark.parametrize(
    "text",
    [
        "kind: Project\nkind: Stage\n",
        "a:\n  b: 1\na:\n  c: [1, 2]\n",
        "a: [1, 2]\na: x\n",
        "a:\nb: 1\na:\n",
        "1: a\n1: b\n",
        "1: a\ntrue: b\n",
        "1.0: a\n1: b\n",
        "{a: 1, a: 2}\n",
        "a: 1\n---\nx: 1\nx: 2\n---\nz: 1\n",
        "outer:\n  a: {x: 1, x: 2}\n  a: 2\n",
        "m:\n  <<: {a: 1}\n  <<: {b: 1}\n",
        "m:\n  <<: 3\n",
        "m:\n  <<: [{a: 1}, [2]]\n",
        "a: !!set {x, x}\n",
        "a: !!map [1]\n",
        "a: !!seq {b: 1}\n",
        "a: !!int [1]\n",
        "a: !!omap {b: 1}\n",
        "a: !!pairs [1]\n",
        "a: !!pairs [{b: 1, c: 2}]\n",
        "a: !!binary 'é'\n",
    ],
)
def test_construction_errors_as_ruamel_reported_them(text: str) -> None:
    _, problems = _same_as_reference(text)
    assert len(problems) == 1


@pytest.mark.parametrize(
    "text",
    [
        "kind: Stage\nmetadata:\n  name: [dev\n",
        "a: 1\n---\nb: [1\n",
        "a: 1\n---\nb: @x\n",
        "a: 1\n---\nb:\n\t- c\n",
        "a:\n  b: 1\n c: 2\n",
        "a: b: c\n",
        "a: 'b\n",
        'a: "b\n',
        "a: |\n  x\n b: 1\n",
        "a: *nope\n",
        "a: !e!x 1\n",
        "a: \x07\n",
        "- a\nb: c\n",
        "a:\n  - b\n  c: d\n",
        "{a: 1\n",
        "[a, b]]\n",
        "a: 1\n--- x: 1\n",
        "%YAML 2.0\n---\na: 1\n",
        "? a\n? b\n: c\n- d\n",
        "x" * 1100 + ": 1\n",
        "a: 1\nb: 2\n   c: 3\n",
        "---\na: 1\n--- |\n  text\n wrong: 1\n",
    ],
)
def test_syntax_errors_as_ruamel_reported_them(text: str) -> None:
    _, problems = _same_as_reference(text)
    assert len(problems) == 1
    assert problems[0].endswith("; fix the indentation, quoting or punctuation there")


def test_a_tab_elsewhere_does_not_hide_the_syntax_error() -> None:
    # ruamel.yaml (and PyYAML's pure-Python parser) stopped at the tab on line 1.
    documents, problems = read_documents("a:\tb\n---\nc: [d\n", "f.yaml")
    assert [d.data for d in documents] == [{"a": "b"}]
    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [
        (4, "invalid YAML: did not find expected ',' or ']'")
    ]


def test_a_syntax_error_keeps_the_documents_before_it() -> None:
    documents, problems = read_documents("a: 1\n---\nb: 2\n---\nc: [3\n", "f.yaml")
    assert [d.data for d in documents] == [{"a": 1}, {"b": 2}]
    assert [str(p) for p in problems] == [
        "f.yaml:6: (document): invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 5); fix the indentation, quoting or punctuation "
        "there"
    ]


def test_an_error_later_in_a_document_comes_before_a_duplicate_key_in_it() -> None:
    # The whole document is parsed before its data is built, as ruamel.yaml did.
    _, problems = _same_as_reference("a: 1\na: 2\nb: [\n")
    assert problems[0].startswith("f.yaml:4: (document): invalid YAML: expected the node")


def test_values_ruamel_could_not_read_are_problems() -> None:
    # ruamel.yaml raised a bare ValueError, IndexError or TypeError here, which stopped the
    # loader.
    cases = {
        "a: !!int abc\n": "f.yaml:1: (document): invalid YAML: cannot read 'abc' as an integer",
        "a: !!int ''\n": "f.yaml:1: (document): invalid YAML: cannot read '' as an integer",
        "a: !!float x\n": "f.yaml:1: (document): invalid YAML: cannot read 'x' as a float",
        "\nb: !!bool maybe\n": "f.yaml:2: (document): invalid YAML: cannot read 'maybe' as a "
        "boolean",
        "a: [1, +_]\n": "f.yaml:1: (document): invalid YAML: cannot read '+_' as an integer",
        "a: 0b_\n": "f.yaml:1: (document): invalid YAML: cannot read '0b_' as an integer",
        "a: ._\n": "f.yaml:1: (document): invalid YAML: cannot read '._' as a float",
        "? [[1]]\n: a\n": "f.yaml:1: (document): invalid YAML: found unhashable key (while "
        "constructing a mapping at line 1)",
    }
    for text, expected in cases.items():
        documents, problems = read_documents(text, "f.yaml")
        assert documents == []
        assert [str(p).split(";")[0] for p in problems] == [expected], text


def test_collections_ruamel_could_not_turn_into_plain_data() -> None:
    # ruamel.yaml built these, then the loader failed on them (a KeyError on merge keys, a
    # TypeError on tagged lists and ordered maps); they now read as their plain data.
    documents, problems = read_documents(
        "a: !custom [1, 2]\nb: !!str [3]\nc: !!omap [{x: 1}, {y: [2]}]\n", "f.yaml"
    )
    assert not problems
    (document,) = documents
    assert document.data == {"a": [1, 2], "b": [3], "c": {"x": 1, "y": [2]}}
    assert document.lines[("c", "y", 0)] == 3


def test_tabs_after_a_colon_and_inside_text_are_read() -> None:
    # YAML allows a tab between ':' and the value and inside plain text; ruamel.yaml's
    # scanner rejected both.
    documents, problems = read_documents("a:\tb\nc: d\te\t\n", "f.yaml")
    assert not problems
    assert documents[0].data == {"a": "b", "c": "d\te"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [::1]\n", "expected the node content, but found ':'"),
        ("a: 1\n: b\n", "expected <block end>, but found ':'"),
        ("a: 1\n...\nb: 2\n", "expected '<document start>', but found '<block mapping start>'"),
        ("%FOO bar\n---\na: 1\n", "found unknown directive name"),
    ],
)
def test_yaml_1_2_forms_libyaml_rejects_are_syntax_errors(text: str, message: str) -> None:
    # ruamel.yaml read these YAML 1.2 forms (a plain scalar starting with ':' in a list
    # written [...], an empty key, a document without '---' after '...', a directive other
    # than %YAML and %TAG); libyaml does not (go-yaml, which Kubernetes reads YAML with, is a
    # port of it).
    assert not _reference(text, "f.yaml")[1]
    _, problems = read_documents(text, "f.yaml")
    assert [p.message.split(" (")[0].split(";")[0] for p in problems] == [
        f"invalid YAML: {message}"
    ]


def test_without_libyaml_the_same_documents_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locations, "_FAST_LOADER", locations._WORDY_LOADER)
    for text in (SCALARS, BLOCKS, STRUCTURE, "a: 1\n---\nb: [1\n"):
        _same_as_reference(text)

"""YAML written to break a reader: each case is a located ManifestError, or loads, quickly.

Alias bombs, deep nesting, huge files and document streams stop at a limit the message
names; tags that name no YAML type and non-string kinds are problems; empty files and
documents of other kinds load, with a warning.
"""

from pathlib import Path

import pytest

from kargo_dagster.errors import ManifestError, ManifestProblem
from kargo_dagster.spec import load_manifests
from kargo_dagster.spec.loader import MAX_FILE_BYTES
from kargo_dagster.spec.locations import MAX_DOCUMENTS, read_documents
from kargo_dagster.spec.yaml_nodes import MAX_ALIASED_NODES, MAX_DEPTH, MAX_NODES
from tests.hang_alarm import hang_alarm
from tests.spec.manifests import PROJECT, WAREHOUSE, join

# Seconds that only an unbounded expansion or a quadratic reading could take here (they
# took half a minute and more before the limits); the reads themselves take milliseconds.
HUNG = 20
KARGO = "apiVersion: kargo.akuity.io/v1alpha1\n"

# Nine levels of ten aliases each: a billion "lol"s from under 1 KB.
BILLION_LAUGHS = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
BILLION_LAUGHS += "".join(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 10))


def _problems(here: Path, text: str) -> list[str]:
    (here / "f.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifests("f.yaml")
    return [str(problem) for problem in caught.value.problems]


def _warnings(here: Path, text: str) -> list[str]:
    (here / "f.yaml").write_text(text, encoding="utf-8")
    warnings: list[ManifestProblem] = []
    load_manifests("f.yaml", warnings=warnings)
    return [str(warning) for warning in warnings]


def test_a_billion_laughs_stops_at_the_alias_limit_at_once(here: Path) -> None:
    assert len(BILLION_LAUGHS) < 1024
    # Not a speed target: expanding the aliases first would take minutes and gigabytes.
    with hang_alarm(HUNG, "reading a billion laughs"):
        (problem,) = _problems(here, BILLION_LAUGHS)
    assert problem.startswith("f.yaml:5: (document): the aliases in the file stand for more ")
    assert f"the limit is {MAX_ALIASED_NODES:,}" in problem


def test_the_alias_limit_counts_every_document_of_the_file(here: Path) -> None:
    # Each document alone stays under the limit; the file does not.
    tens = "a0: &a0 [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n" + "".join(
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]\n" for n in range(1, 4)
    )
    documents = MAX_ALIASED_NODES // 11_000 + 1
    (problem,) = _problems(here, join(*[tens] * documents))
    assert f"the limit is {MAX_ALIASED_NODES:,}" in problem


def test_aliases_under_the_limit_are_expanded(here: Path) -> None:
    text = "a: &a [1, 2, 3]\nb: [*a, *a]\n"
    (document,), problems = read_documents(text, "f.yaml")
    assert not problems
    assert document.data == {"a": [1, 2, 3], "b": [[1, 2, 3], [1, 2, 3]]}


def test_a_collection_that_contains_itself_is_not_counted_again(here: Path) -> None:
    # Such an alias is read as null, so a thousand of them are a thousand nodes.
    text = f"a: &a [{', '.join(['*a'] * 1000)}]\n"
    (document,), problems = read_documents(text, "f.yaml")
    assert not problems
    assert document.data == {"a": [None] * 1000}


def test_a_file_of_more_than_the_node_limit_is_refused(here: Path) -> None:
    text = f"a: [{'1,' * MAX_NODES}]\n"
    _, problems = read_documents(text, "f.yaml")
    assert [p.message for p in problems] == [
        f"the file stands for more than {MAX_NODES:,} YAML nodes, aliases expanded (the limit "
        f"is {MAX_NODES:,}); split it into several files"
    ]


@pytest.mark.parametrize(
    ("nesting", "line"),
    [
        ("x: " + "[" * 400 + "]" * 400, 5),
        ("x: " + "{a: " * 400 + "1" + "}" * 400, 5),
        # A list of mappings: two levels a line, so the 101st level is on the 50th line.
        ("x:\n" + "".join(f"{'  ' * level}- a:\n" for level in range(400)), 55),
        ("x: " + "[" * 5000 + "]" * 5000, 5),  # past libyaml's own limit of 1,000
    ],
    ids=["flow-lists", "flow-mappings", "block", "past-libyaml"],
)
def test_400_levels_of_nesting_stop_at_the_depth_limit(here: Path, nesting: str, line: int) -> None:
    with hang_alarm(HUNG, "reading deep nesting"):
        (problem,) = _problems(here, PROJECT + nesting + "\n")
    assert problem == (
        f"f.yaml:{line}: (document): lists and mappings nested more than {MAX_DEPTH} levels "
        f"deep, aliases expanded (the limit is {MAX_DEPTH}); a manifest needs far fewer: "
        "flatten the structure"
    )


def test_nesting_up_to_the_limit_is_read(here: Path) -> None:
    depth = MAX_DEPTH - 1  # the document's own mapping is the first level
    text = "x: " + "[" * depth + "]" * depth + "\n"
    (document,), problems = read_documents(text, "f.yaml")
    assert not problems
    value = document.data["x"]
    for _ in range(depth - 1):
        (value,) = value
    assert value == []


def test_aliases_count_towards_the_depth(here: Path) -> None:
    deep = "[" * 60 + "]" * 60
    text = f"a: &a {deep}\nb: {'[' * 50}*a{']' * 50}\n"
    _, problems = read_documents(text, "f.yaml")
    assert [p.line for p in problems] == [2]
    assert f"nested more than {MAX_DEPTH} levels deep, aliases expanded" in problems[0].message


def test_more_documents_than_the_limit_are_refused(here: Path) -> None:
    (problem,) = _problems(here, "---\na: 1\n" * (MAX_DOCUMENTS + 1))
    assert problem.startswith(f"f.yaml:{2 * MAX_DOCUMENTS + 1}: (document): more than ")
    assert f"the limit is {MAX_DOCUMENTS:,}" in problem


def test_a_file_larger_than_the_size_limit_is_not_read(here: Path) -> None:
    text = PROJECT + "#" * MAX_FILE_BYTES + "\n"
    assert _problems(here, text) == [
        f"f.yaml:1: (document): the file is larger than {MAX_FILE_BYTES:,} bytes (the limit); "
        "split it into several files"
    ]


def test_a_large_file_with_a_syntax_error_is_reported_quickly(here: Path) -> None:
    # The message comes from libyaml alone: the slower parser's reading is not waited for.
    lines = "".join(f"# comment {n}\n" for n in range(200_000))
    # Not a speed target: the slower parser's reading took half a minute here.
    with hang_alarm(HUNG, "reading a large file with a syntax error"):
        (problem,) = _problems(here, PROJECT + lines + "a: [\n")
    assert problem.startswith("f.yaml:200006: (document): invalid YAML: ")


def test_merge_keys_are_resolved_as_yaml_1_1_does(here: Path) -> None:
    text = (
        "apiVersion: kargo.akuity.io/v1alpha1\n"
        "kind: Warehouse\n"
        "metadata:\n"
        "  <<: &meta {name: app, namespace: other}\n"
        "  namespace: demo\n"
        "spec:\n"
        "  <<: [{interval: 10m}, {interval: 1h, subscriptions: [{image: {repoURL: r/app}}]}]\n"
    )
    (here / "f.yaml").write_text(join(PROJECT, text), encoding="utf-8")
    warehouse = load_manifests("f.yaml").projects["demo"].warehouses["app"]
    assert warehouse.spec.interval.total_seconds() == 600
    assert warehouse.line_of("metadata.name") == 9


@pytest.mark.parametrize(
    ("merge", "message"),
    [
        ("<<: 3", "expected a mapping or list of mappings for merging, but found scalar"),
        ("<<: [[a]]", "expected a mapping for merging, but found sequence"),
        ("<<: *nowhere", "found undefined alias 'nowhere'"),
    ],
)
def test_merge_keys_that_merge_no_mapping_are_problems(
    here: Path, merge: str, message: str
) -> None:
    (problem,) = _problems(here, f"{KARGO}kind: Project\nmetadata:\n  {merge}\n  name: demo\n")
    assert problem.startswith("f.yaml:4: (document): invalid YAML: ")
    assert message in problem


@pytest.mark.parametrize(
    "tagged",
    [
        "metadata: !!python/object:os.system {name: demo}",
        "metadata: !!python/object/apply:os.system [echo]",
        "metadata:\n  name: !!python/name:builtins.eval ''",
        "metadata:\n  name: !<tag:yaml.org,2002:python/str> demo",
        "metadata: !!python/tuple [a]",
        "metadata:\n  name: !!nonsense demo",
    ],
)
def test_tags_that_name_no_yaml_type_are_refused(here: Path, tagged: str) -> None:
    (problem,) = _problems(here, f"{KARGO}kind: Project\n{tagged}\n")
    assert "names no YAML type kargo-dagster reads" in problem
    assert problem.endswith("remove the tag")
    assert problem.startswith(
        ("f.yaml:3: (document): the tag !!", "f.yaml:4: (document): the tag !!")
    )


def test_yaml_types_and_application_tags_keep_their_reading(here: Path) -> None:
    text = (
        "a: !!omap [{x: 1}]\nb: !!set {y}\nc: !!binary aGk=\nd: !!timestamp 2001-01-01\n"
        "e: !custom text\nf: !!str 1\n"
    )
    (document,), problems = read_documents(text, "f.yaml")
    assert not problems
    assert document.data == {
        "a": {"x": 1},
        "b": {"y"},
        "c": b"hi",
        "d": "2001-01-01",
        "e": "text",
        "f": "1",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('!!int "abc"', "cannot read 'abc' as an integer"),
        ("!!bool maybe", "cannot read 'maybe' as a boolean"),
        ("!!float one", "cannot read 'one' as a float"),
        ("!!binary 'é'", "failed to convert base64 data into ascii"),
        ("!!map [a]", "expected a mapping node, but found sequence"),
        ("!!omap {a: 1}", "expected a sequence, but found mapping"),
    ],
)
def test_values_that_do_not_fit_their_tag_are_problems(
    here: Path, value: str, message: str
) -> None:
    (problem,) = _problems(here, f"{KARGO}kind: Project\nmetadata:\n  name: {value}\n")
    assert problem.startswith("f.yaml:4: (document): invalid YAML: ")
    assert message in problem


@pytest.mark.parametrize(
    ("kind", "shown"),
    [("3", "3"), ("1.5", "1.5"), ("true", "True"), ("[Stage]", "list"), ("{a: b}", "dict")],
)
def test_a_kind_that_is_not_a_string_is_a_problem(here: Path, kind: str, shown: str) -> None:
    assert _problems(here, f"{KARGO}kind: {kind}\nmetadata:\n  name: x\n") == [
        f"f.yaml:2: (document): kind: must be a string naming the object's kind, like Stage "
        f"(got {shown})"
    ]


def test_an_empty_file_loads_with_a_warning(here: Path) -> None:
    for text in ("", "\n# only a comment\n", "---\n...\n"):
        assert _warnings(here, text) == [
            "f.yaml:1: (document): no YAML documents in the file; nothing read"
        ]


def test_documents_of_other_kinds_load_with_a_warning(here: Path) -> None:
    text = join(
        PROJECT,
        WAREHOUSE,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
        f"{KARGO}kind: Stgae\nmetadata:\n  name: dev\n",
        "apiVersion: v1\nkind: Stage\nmetadata:\n  name: dev\n",
        f"{KARGO}kind: AnalysisTemplate\nmetadata:\n  name: checks\n",
        f"{KARGO}kind: !custom Freight\nmetadata:\n  name: abc\n",
        "replicas: 3\n",
    )
    assert _warnings(here, text) == [
        "f.yaml:17: ConfigMap/settings: kind 'ConfigMap' is not one kargo-dagster reads; skipped",
        "f.yaml:22: Stgae/dev: kind 'Stgae' is not one kargo-dagster reads; skipped; did you "
        "mean 'Stage'?",
        "f.yaml:27: Stage/dev: Stage of apiVersion 'v1' is not one kargo-dagster reads; "
        "skipped (write apiVersion: kargo.akuity.io/v1alpha1 to have it read)",
        "f.yaml:32: AnalysisTemplate/checks: AnalysisTemplate of apiVersion "
        "'kargo.akuity.io/v1alpha1' is not one kargo-dagster reads; skipped (write apiVersion: "
        "argoproj.io/v1alpha1 to have it read)",
        "f.yaml:37: Freight/abc: kind 'Freight' is not one kargo-dagster reads; skipped",
        "f.yaml:41: (document): no kind, so not a Kubernetes manifest; skipped",
    ]


def test_warnings_are_kept_when_loading_fails(here: Path) -> None:
    (here / "f.yaml").write_text(join("kind: Other\n", "kind: 3\n"), encoding="utf-8")
    warnings: list[ManifestProblem] = []
    with pytest.raises(ManifestError):
        load_manifests("f.yaml", warnings=warnings)
    assert [w.kind for w in warnings] == ["Other"]

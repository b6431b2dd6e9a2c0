"""The patch formats, checked against the examples of RFC 7386 and RFC 6902."""

import pytest

from kargo_dagster.testing.kube_patch import (
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # RFC 7386 appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch(target, patch, result):
    assert merge_patch(target, patch) == result


def test_json_patch_operations():
    document = {"foo": ["bar", "baz"], "obj": {"a": 1}}
    patched = json_patch(
        document,
        [
            {"op": "add", "path": "/foo/1", "value": "qux"},
            {"op": "add", "path": "/foo/-", "value": "end"},
            {"op": "remove", "path": "/foo/0"},
            {"op": "replace", "path": "/obj/a", "value": 2},
            {"op": "copy", "from": "/obj", "path": "/copy"},
            {"op": "move", "from": "/obj/a", "path": "/moved"},
            {"op": "add", "path": "/a~1b", "value": "slash"},
            {"op": "test", "path": "/copy/a", "value": 2},
        ],
    )
    assert patched == {
        "foo": ["qux", "baz", "end"],
        "obj": {},
        "copy": {"a": 2},
        "moved": 2,
        "a/b": "slash",
    }
    assert document == {"foo": ["bar", "baz"], "obj": {"a": 1}}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "test", "path": "/a", "value": 2},
        {"op": "remove", "path": "/missing"},
        {"op": "replace", "path": "/missing", "value": 1},
        {"op": "add", "path": "/list/5", "value": 1},
        {"op": "add", "path": "/list/01", "value": 1},
        {"op": "move", "from": "/a", "path": "/a/b"},
        {"op": "frobnicate", "path": "/a"},
        {"op": "add", "path": "a", "value": 1},
        {"op": "add", "path": "/a"},
    ],
)
def test_json_patch_errors(operation):
    with pytest.raises(PatchError):
        json_patch({"a": 1, "list": [0]}, [operation])


def test_strategic_merge_patch_merges_lists_of_named_objects():
    target = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "args": ["x"]}
    patch = {"env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}], "args": ["y"]}
    assert strategic_merge_patch(target, patch) == {
        "env": [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "3"},
            {"name": "C", "value": "4"},
        ],
        "args": ["y"],
    }

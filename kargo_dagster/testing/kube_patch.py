"""The three patch formats a Kubernetes API server accepts on ``PATCH``, and how the fake API
server applies a request's patch.

A ``PATCH`` names its format in ``Content-Type`` (:func:`patch_format`); strategic merge
patch is refused for custom resources (``415``) and a patch that does not apply is ``400``
(:func:`apply_patch`):

* ``application/merge-patch+json``: RFC 7386 JSON merge patch (objects merge, ``null``
  deletes, anything else replaces, lists included);
* ``application/json-patch+json``: RFC 6902 JSON patch (``add``, ``remove``, ``replace``,
  ``move``, ``copy``, ``test``);
* ``application/strategic-merge-patch+json``: a merge patch in which lists of objects that
  all carry a ``name`` merge item by item on that name, the merge key of most built-in lists
  (containers, env, volumes); other lists are replaced, and the ``$patch``/``$retainKeys``
  directives are not interpreted. The API server refuses this format for custom resources.

All functions return a new document and leave their arguments untouched.
"""

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kargo_dagster.testing.kube_errors import KubeAPIError, bad_request, status_body
from kargo_dagster.testing.kube_resource_types import ResourceType

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "PatchError",
    "apply_patch",
    "json_patch",
    "merge_patch",
    "patch_format",
    "strategic_merge_patch",
]


class PatchError(ValueError):
    """A patch that is malformed or does not apply to the document."""


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch to ``target``."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(copy.deepcopy(target)) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch, approximated as described in the module docstring."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(copy.deepcopy(target)) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(current, list) and _named_list(value) and _named_list(current):
            result[key] = _merge_named(current, value)
        else:
            result[key] = strategic_merge_patch(current, value)
    return result


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, Mapping) and isinstance(item.get("name"), str) for item in value
    )


def _merge_named(current: list[Any], patch: list[Any]) -> list[Any]:
    merged = [copy.deepcopy(item) for item in current]
    index = {item["name"]: position for position, item in enumerate(merged)}
    for item in patch:
        position = index.get(item["name"])
        if position is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[position] = strategic_merge_patch(merged[position], item)
    return merged


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch to ``target``.

    Raises:
        PatchError: The patch is not a list of operations, a path does not exist, or a
            ``test`` operation failed.
    """
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    document = copy.deepcopy(target)
    for number, operation in enumerate(operations):
        if not isinstance(operation, Mapping) or not isinstance(operation.get("op"), str):
            raise PatchError(f"operation {number} has no 'op'")
        document = _apply(document, operation)
    return document


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}")
    if path == "":
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: Sequence[Any], token: str, *, adding: bool) -> int:
    if token == "-" and adding:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not adding):
        raise PatchError(f"array index {index} out of range")
    return index


def _parent(document: Any, tokens: list[str], path: str) -> Any:
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, adding=False)]
        else:
            raise PatchError(f"path {path!r} does not exist")
    return node


def _get(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return document
    parent = _parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {path!r} does not exist")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, adding=False)]
    raise PatchError(f"path {path!r} does not exist")


def _remove(document: Any, path: str) -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {path!r} does not exist")
        return document, parent.pop(last)
    if isinstance(parent, list):
        return document, parent.pop(_index(parent, last, adding=False))
    raise PatchError(f"path {path!r} does not exist")


def _add(document: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(document, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"path {path!r} does not exist")
        parent[last] = value
    elif isinstance(parent, list):
        index = _index(parent, last, adding=not replace)
        if replace:
            parent[index] = value
        else:
            parent.insert(index, value)
    else:
        raise PatchError(f"path {path!r} does not exist")
    return document


def _apply(document: Any, operation: Mapping[str, Any]) -> Any:
    op, path = operation["op"], operation.get("path")
    if not isinstance(path, str):
        raise PatchError(f"{op} operation has no 'path'")
    if op in ("add", "replace", "test") and "value" not in operation:
        raise PatchError(f"{op} operation on {path!r} has no 'value'")
    if op == "add":
        return _add(document, path, copy.deepcopy(operation["value"]))
    if op == "replace":
        return _add(document, path, copy.deepcopy(operation["value"]), replace=True)
    if op == "remove":
        return _remove(document, path)[0]
    if op in ("move", "copy"):
        source = operation.get("from")
        if not isinstance(source, str):
            raise PatchError(f"{op} operation on {path!r} has no 'from'")
        if op == "move":
            if path.startswith(source + "/"):
                raise PatchError(f"cannot move {source!r} into its own child {path!r}")
            document, value = _remove(document, source)
        else:
            value = copy.deepcopy(_get(document, source))
        return _add(document, path, value)
    if op == "test":
        if _get(document, path) != operation["value"]:
            raise PatchError(f"test operation on {path!r} failed")
        return document
    raise PatchError(f"unknown JSON patch operation {op!r}")


MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def patch_format(rtype: ResourceType, content_type: str) -> str:
    """The patch format a request's ``Content-Type`` names, when ``rtype`` takes it.

    Raises:
        KubeAPIError: 415 for a format the kind does not take.
    """
    media = content_type.split(";")[0].strip().lower()
    refused = media == STRATEGIC_MERGE_PATCH and rtype.custom
    if refused or media not in (MERGE_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH):
        accepted = [JSON_PATCH, MERGE_PATCH, "application/apply-patch+yaml"]
        if not rtype.custom:
            accepted.insert(2, STRATEGIC_MERGE_PATCH)
        raise KubeAPIError(
            status_body(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(accepted)}",
            )
        )
    return media


def apply_patch(old: Mapping[str, Any], patch: Any, media: str, name: str) -> dict[str, Any]:
    """``old`` patched with ``patch`` in format ``media``, its metadata still naming ``name``.

    Raises:
        KubeAPIError: 400 when the patch does not apply or leaves no object.
    """
    try:
        if media == JSON_PATCH:
            patched = json_patch(old, patch)
        elif media == MERGE_PATCH:
            if not isinstance(patch, Mapping):
                raise PatchError("a merge patch must be a JSON object")
            patched = merge_patch(old, patch)
        else:
            if not isinstance(patch, Mapping):
                raise PatchError("a strategic merge patch must be a JSON object")
            patched = strategic_merge_patch(old, patch)
    except PatchError as error:
        raise bad_request(str(error)) from None
    if not isinstance(patched, dict):
        raise bad_request("the patched object is not a JSON object")
    patched.setdefault("metadata", {})
    if not isinstance(patched["metadata"], dict):
        raise bad_request("metadata must be a JSON object")
    patched["metadata"].setdefault("name", name)
    return patched

"""The JSON merge patch (RFC 7386) that turns one JSON object into another.

Kubernetes clients write a changed object as the merge patch between what they read and
what they want (controller-runtime's ``client.MergeFrom``): only changed fields travel, a
removed field is sent as ``null``, and a changed list is sent whole, since a merge patch
cannot address list items.
"""

from collections.abc import Mapping
from typing import Any

__all__ = ["merge_patch"]


def merge_patch(original: Mapping[str, Any], modified: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that makes ``original`` into ``modified``.

    A key whose value is ``None`` in ``modified`` counts as absent, as it would after the
    patch is applied.

    Examples:
        >>> merge_patch({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}, "d": [4]})
        {'b': {'c': 3}, 'd': [4]}
        >>> merge_patch({"a": 1, "b": 2}, {"a": 1})
        {'b': None}
    """
    patch: dict[str, Any] = {}
    for key, old in original.items():
        if old is not None and modified.get(key) is None:
            patch[key] = None
    for key, new in modified.items():
        if new is None:
            continue
        old = original.get(key)
        if isinstance(new, Mapping) and isinstance(old, Mapping):
            nested = merge_patch(old, new)  # pyright: ignore[reportUnknownArgumentType]
            if nested:
                patch[key] = nested
        elif new != old or key not in original:
            patch[key] = new
    return patch

"""The fields the fake Kubernetes API server owns, and how each write sets them.

Clients do not choose an object's ``uid``, ``creationTimestamp``, ``deletionTimestamp`` or
``generation``, nor, for kinds with a status subresource, its ``status`` outside
``/status``: the API server sets them on create (:func:`initialize_created`), carries them
over from the stored object on update (:func:`carry_over`), and moves ``generation`` when
the object changes outside ``metadata`` (and outside ``status`` with a status
subresource) for the kinds that track it (:func:`advance_generation`).
"""

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from kargo_dagster.testing.kube_resource_types import ResourceType

__all__ = ["advance_generation", "carry_over", "initialize_created"]

_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")


def initialize_created(rtype: ResourceType, obj: dict[str, Any], created_at: str) -> None:
    """Set the server-owned fields of an object being created, in place.

    Whatever the client sent for them is dropped; with a status subresource the object
    starts with the kind's initial ``status``.
    """
    meta = obj["metadata"]
    for key in (*_SYSTEM_META, "generation"):
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = created_at
    if rtype.tracks_generation:
        meta["generation"] = 1
    if rtype.status_subresource:
        obj.pop("status", None)
        if rtype.initial_status is not None:
            obj["status"] = copy.deepcopy(dict(rtype.initial_status))


def carry_over(
    rtype: ResourceType, old: Mapping[str, Any], obj: dict[str, Any], subresource: str | None
) -> dict[str, Any]:
    """The object an update of ``old`` to ``obj`` writes, before admission and generation.

    A write to ``/status`` changes only ``status``; with a status subresource a write to
    the object keeps the stored ``status``. Server-owned metadata and the
    ``resourceVersion`` are the stored ones.
    """
    if subresource == "status":
        # Only status changes through /status; the rest is the stored object.
        status = obj.get("status")
        obj = copy.deepcopy(dict(old))
        if status is None:
            obj.pop("status", None)
        else:
            obj["status"] = status
    elif rtype.status_subresource:
        if "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        else:
            obj.pop("status", None)
    meta = obj["metadata"]
    for key in _SYSTEM_META:
        if key in old["metadata"]:
            meta[key] = old["metadata"][key]
        else:
            meta.pop(key, None)
    meta["resourceVersion"] = old["metadata"]["resourceVersion"]
    return obj


def advance_generation(rtype: ResourceType, old: Mapping[str, Any], obj: dict[str, Any]) -> None:
    """Set ``obj``'s ``metadata.generation``, one past ``old``'s when its content changed."""
    meta = obj["metadata"]
    if rtype.tracks_generation:
        generation = int(old["metadata"].get("generation", 1))
        without_status = rtype.status_subresource
        if _content(obj, without_status=without_status) != _content(
            old, without_status=without_status
        ):
            generation += 1
        meta["generation"] = generation
    else:
        meta.pop("generation", None)


def _content(obj: Mapping[str, Any], *, without_status: bool) -> dict[str, Any]:
    skip = {"metadata", "status"} if without_status else {"metadata"}
    return {key: value for key, value in obj.items() if key not in skip}

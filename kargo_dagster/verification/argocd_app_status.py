"""Reading an Argo CD Application's JSON as Kargo decodes it, and summarising its status.

The field readers accept what Argo CD writes (absent or null fields read as empty) and raise
:class:`MalformedApplication` for anything Kargo could not decode, naming the field's path.
:func:`status_summary` reduces the status to what describes the Application's health, stable
across refreshes and with credentials in URLs masked, for check metadata.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kargo_dagster.redaction import redact_text

__all__ = [
    "MalformedApplication",
    "as_text",
    "go_quote",
    "list_field",
    "object_field",
    "object_list_field",
    "status_summary",
    "time_field",
]


class MalformedApplication(Exception):
    """The Application's JSON does not have the shape Argo CD gives it."""


def go_quote(text: str) -> str:
    """``text`` in double quotes with escapes, as Go's ``%q`` shows names in Kargo's messages."""
    return json.dumps(text, ensure_ascii=False)


def as_text(value: Any) -> str:
    """``value`` as a string; None is empty."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def object_field(parent: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    """The object at ``key``, empty when absent; ``where`` is its parent's path in messages.

    Raises:
        MalformedApplication: The value is not an object.
    """
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedApplication(f"{where}{key}: expected an object, got {type(value).__name__}")
    return value


def list_field(parent: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """The list at ``key``, empty when absent.

    Raises:
        MalformedApplication: The value is not a list.
    """
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedApplication(f"{where}{key}: expected a list, got {type(value).__name__}")
    return value


def object_list_field(parent: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    """The list of objects at ``key``, empty when absent.

    Raises:
        MalformedApplication: The value is not a list, or an item is not an object.
    """
    items = list_field(parent, key, where)
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise MalformedApplication(
                f"{where}{key}[{i}]: expected an object, got {type(item).__name__}"
            )
    return items


def time_field(parent: Mapping[str, Any], key: str, where: str) -> datetime | None:
    """A Kubernetes timestamp (RFC 3339), None when absent.

    Raises:
        MalformedApplication: The value is not a timestamp with a time zone.
    """
    value = parent.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedApplication(
            f"{where}{key}: expected a timestamp, got {type(value).__name__}"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedApplication(
            f"{where}{key}: {go_quote(value)} is not an RFC 3339 timestamp"
        ) from None
    if moment.tzinfo is None:
        raise MalformedApplication(f"{where}{key}: {go_quote(value)} has no time zone")
    return moment


def status_summary(namespace: str, name: str, app: Mapping[str, Any]) -> dict[str, Any]:
    """The Application's status reduced for metadata: what it is, never when it was looked at.

    Kargo keeps the whole status minus ``reconciledAt`` and the conditions' transition
    times; resources, history and comparison details are left out here as well, since they
    can be large and add nothing to a health verdict.

    Raises:
        MalformedApplication: The status does not have the shape Argo CD gives it.
    """
    status = object_field(app, "status")
    summary: dict[str, Any] = {"namespace": namespace, "name": name}
    health = object_field(status, "health", "status.")
    summary["health"] = _pick(health, ("status", "message"))
    sync = object_field(status, "sync", "status.")
    summary["sync"] = _pick(sync, ("status", "revision", "revisions"))
    operation_state = object_field(status, "operationState", "status.")
    if operation_state:
        picked = _pick(
            operation_state, ("phase", "message", "startedAt", "finishedAt", "retryCount")
        )
        result = object_field(operation_state, "syncResult", "status.operationState.")
        if result:
            picked["syncResult"] = _pick(result, ("revision", "revisions"))
        summary["operationState"] = picked
    conditions = object_list_field(status, "conditions", "status.")
    if conditions:
        summary["conditions"] = [_pick(c, ("type", "message")) for c in conditions]
    return summary


def _pick(source: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The present ``keys`` of ``source``, strings with credentials masked."""
    picked: dict[str, Any] = {}
    for key in keys:
        value = source.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            picked[key] = redact_text(value)
        elif isinstance(value, list):
            picked[key] = [redact_text(v) if isinstance(v, str) else v for v in value]
        else:
            picked[key] = value
    return picked

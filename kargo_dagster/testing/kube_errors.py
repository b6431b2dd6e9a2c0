"""The failures of the fake Kubernetes API server, as the ``v1/Status`` bodies it sends.

:class:`KubeAPIError` carries the ``Status`` body of a refused request; the constructors
(:func:`not_found`, :func:`conflict`, :func:`already_exists`, :func:`invalid`,
:func:`bad_request`) build the ones the API server sends for each case, with its wording
and ``details``, so clients see the answers a real cluster gives.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.testing.crd_schemas import FieldError
from kargo_dagster.testing.kube_resource_types import ResourceType

__all__ = [
    "KubeAPIError",
    "already_exists",
    "bad_request",
    "conflict",
    "invalid",
    "not_found",
    "status_body",
]


def status_body(
    code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A ``v1/Status`` failure body, with the fields in the API server's order."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = dict(details)
    body["code"] = code
    if not reason:
        del body["reason"]
    return body


class KubeAPIError(KargoDagsterError):
    """A request the fake API server refuses; ``status`` is the ``v1/Status`` body it sends.

    Attributes:
        status: The Status body (``code``, ``reason``, ``message``, ``details``).
    """

    def __init__(self, status: Mapping[str, Any]) -> None:
        super().__init__(f"{status.get('code')} {status.get('reason', '')}: {status['message']}")
        self.status = dict(status)

    @property
    def code(self) -> int:
        """The HTTP status code."""
        return int(self.status["code"])

    @property
    def reason(self) -> str:
        """The Kubernetes reason (``Conflict``, ``NotFound``, ``Invalid``...)."""
        return str(self.status.get("reason", ""))


def not_found(rtype: ResourceType, name: str) -> KubeAPIError:
    """``404 NotFound`` for an object."""
    return KubeAPIError(
        status_body(
            404, "NotFound", f'{rtype.qualified_resource} "{name}" not found', rtype.details(name)
        )
    )


def conflict(rtype: ResourceType, name: str, why: str | None = None) -> KubeAPIError:
    """``409 Conflict`` for a stale write."""
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return KubeAPIError(
        status_body(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {rtype.qualified_resource} "{name}": {why}',
            rtype.details(name),
        )
    )


def already_exists(rtype: ResourceType, name: str) -> KubeAPIError:
    """``409 AlreadyExists`` for a create."""
    return KubeAPIError(
        status_body(
            409,
            "AlreadyExists",
            f'{rtype.qualified_resource} "{name}" already exists',
            rtype.details(name),
        )
    )


def invalid(rtype: ResourceType, name: str, errors: Iterable[FieldError]) -> KubeAPIError:
    """``422 Invalid`` listing every invalid field."""
    errors = list(errors)
    summary = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    details = rtype.details(name, by_kind=True)
    details["causes"] = [
        {"reason": e.reason, "message": e.message, "field": e.field} for e in errors
    ]
    return KubeAPIError(
        status_body(
            422, "Invalid", f'{rtype.qualified_kind} "{name}" is invalid: {summary}', details
        )
    )


def bad_request(message: str) -> KubeAPIError:
    """``400 BadRequest``."""
    return KubeAPIError(status_body(400, "BadRequest", message))

"""Failures a test injects into the fake Kubernetes API server's next requests.

A test arms a fault (``FakeKubeAPI.fail_next``) for a verb, resource, object and
namespace; :class:`FaultInjector` hands it out to the next matching requests, before they
reach the store, as the :class:`~kargo_dagster.testing.kube_errors.KubeAPIError` the API
server would send for that status code (the Conflict of a stale write, NotFound,
InternalError, TooManyRequests), or with the ``Status`` body the test gave.
"""

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kargo_dagster.testing.kube_errors import KubeAPIError, conflict, not_found, status_body
from kargo_dagster.testing.kube_routes import Route

__all__ = ["FaultInjector"]

# The verbs the "write" wildcard stands for.
_WRITES = ("update", "patch")


@dataclass
class _Fault:
    verb: str
    plural: str
    name: str | None
    namespace: str | None
    code: int
    body: Mapping[str, Any] | None
    times: int


class FaultInjector:
    """The armed faults, in the order they were armed. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []

    def arm(
        self,
        verb: str,
        plural: str,
        name: str | None,
        namespace: str | None,
        code: int,
        body: Mapping[str, Any] | None,
        times: int,
    ) -> None:
        """Fail the next ``times`` matching requests (see ``FakeKubeAPI.fail_next``)."""
        with self._lock:
            self._faults.append(_Fault(verb, plural, name, namespace, code, body, times))

    def take(self, verb: str, target: Route) -> KubeAPIError | None:
        """The failure for a ``verb`` request on ``target``, using up one of its times; or None.

        The first armed fault that matches answers.
        """
        with self._lock:
            for fault in self._faults:
                if (
                    (fault.verb in ("*", verb) or (fault.verb == "write" and verb in _WRITES))
                    and fault.plural in ("*", target.rtype.plural)
                    and fault.name in (None, target.name)
                    and fault.namespace in (None, target.namespace)
                ):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    break
            else:
                return None
        return _error(fault, target)


def _error(fault: _Fault, target: Route) -> KubeAPIError:
    if fault.body is not None:
        return KubeAPIError(fault.body)
    name = target.name or ""
    if fault.code == 409:
        return conflict(target.rtype, name)
    if fault.code == 404:
        return not_found(target.rtype, name)
    if fault.code == 500:
        return KubeAPIError(
            status_body(500, "InternalError", "Internal error occurred: injected failure")
        )
    if fault.code == 429:
        return KubeAPIError(
            status_body(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
                {"retryAfterSeconds": 1},
            )
        )
    return KubeAPIError(status_body(fault.code, "", f"injected failure {fault.code}"))

"""What a Stage health check finds: Kargo's health states and the per-Application and
per-Stage results of an Argo CD health check.

:class:`HealthState` orders Kargo's states from best to worst, so that a Stage takes the
worst of its Applications'. :class:`AppHealth` and :class:`StageHealth` carry the state with
Kargo's issue messages and a status summary fit for check metadata.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["AppHealth", "HealthState", "StageHealth"]


class HealthState(StrEnum):
    """Kargo's Stage health states, from best to worst."""

    HEALTHY = "Healthy"
    NOT_APPLICABLE = "NotApplicable"
    PROGRESSING = "Progressing"
    UNKNOWN = "Unknown"
    UNHEALTHY = "Unhealthy"

    @property
    def severity(self) -> int:
        """Position in the order Healthy < NotApplicable < Progressing < Unknown < Unhealthy."""
        return _SEVERITY[self]

    def merge(self, other: "HealthState") -> "HealthState":
        """The worse of the two states."""
        return self if self.severity > other.severity else other

    @property
    def settled(self) -> bool:
        """Whether waiting longer is pointless: neither Progressing nor Unknown."""
        return self not in (HealthState.PROGRESSING, HealthState.UNKNOWN)


_SEVERITY = {state: rank for rank, state in enumerate(HealthState)}


@dataclass(frozen=True)
class AppHealth:
    """The health of one Application, as it affects the Stage.

    Attributes:
        namespace: The Application's namespace.
        name: The Application's name.
        status: Its health by Kargo's rules.
        issues: Why it is not Healthy, in Kargo's words (empty when Healthy).
        refresh_requested: Argo CD's health predates the last operation; the caller should
            ask Argo CD for a hard refresh
            (:func:`~kargo_dagster.verification.argocd_health.hard_refresh_patch`), as Kargo
            does.
        summary: The Application's status, reduced to what describes it (health, sync,
            operation, conditions), credentials masked; JSON-compatible.
    """

    namespace: str
    name: str
    status: HealthState
    issues: tuple[str, ...] = ()
    refresh_requested: bool = False
    summary: Mapping[str, Any] = field(default_factory=dict[str, Any])

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-compatible dict (for check metadata)."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "status": self.status.value,
            "issues": list(self.issues),
            "applicationStatus": dict(self.summary),
        }


@dataclass(frozen=True)
class StageHealth:
    """A Stage's health from the criteria its last promotion registered.

    Attributes:
        status: The worst of the Applications' states; Healthy when nothing was registered.
        issues: Every Application's issues, plus those of criteria that could not be read.
        apps: Each Application's result, in the order the criteria list them.
    """

    status: HealthState = HealthState.HEALTHY
    issues: tuple[str, ...] = ()
    apps: tuple[AppHealth, ...] = ()

    @property
    def settled(self) -> bool:
        """Whether this is a final answer: neither Progressing nor Unknown."""
        return self.status.settled

    @property
    def refresh_requests(self) -> tuple[tuple[str, str], ...]:
        """``(namespace, name)`` of each Application Argo CD should refresh."""
        return tuple((a.namespace, a.name) for a in self.apps if a.refresh_requested)

    @property
    def description(self) -> str:
        """One line for people: the state, then the issues."""
        if not self.issues:
            return self.status.value
        return f"{self.status.value}: {'; '.join(self.issues)}"

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-compatible dict, shaped like Kargo's Stage ``status.health``.

        ``applicationStatuses`` holds each Application's status summary. Nothing in it
        changes when Argo CD merely re-reconciles an unchanged Application.
        """
        return {
            "status": self.status.value,
            "issues": list(self.issues),
            "applicationStatuses": [dict(a.summary) for a in self.apps],
        }

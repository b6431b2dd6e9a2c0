"""What the Argo CD simulator keeps per Application beside the object in the store.

A real controller keeps state outside the Application too (what is deployed, the
operation it is running); the simulator keeps it in an :class:`AppState`. How tests want
an app to behave (failures to inject, slow syncs, stalled refreshes, the health after a
sync) is its :class:`Behaviour`. Each transition of the refresh and operation loops
changes the Application in place and returns a :class:`Transition`: what the simulator
logs when it writes the app back, and the Event to record after the write, if any.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kargo_dagster.testing.kube_store import timestamp

__all__ = [
    "COMPLETED",
    "SUCCESS_MESSAGE",
    "AppState",
    "Behaviour",
    "Outcome",
    "Plan",
    "Transition",
    "health",
    "live_from_status",
]

COMPLETED = ("Succeeded", "Failed", "Error")
SUCCESS_MESSAGE = "successfully synced (all tasks run)"


@dataclass
class Outcome:
    """How an operation ends: its phase and message."""

    phase: str
    message: str


@dataclass
class Behaviour:
    """What the simulator does for one Application (set through the knob methods)."""

    sync_steps: int = 0
    failures: list[Outcome] = field(default_factory=list)
    health: str = "Healthy"
    health_message: str = ""
    progressing_steps: int = 1
    stalled_refreshes: int | None = 0  # None: until resumed


@dataclass
class Plan:
    """How the operation in progress will go, fixed when it starts."""

    extra_steps: int
    outcome: Outcome


@dataclass
class AppState:
    """The controller's memory of one Application (of one ``uid``).

    Attributes:
        uid: The Application's ``metadata.uid``; a new uid starts a new state.
        live: The deployed revisions and sources, or None when nothing is deployed.
        plan: How the operation in progress goes.
        op_steps: Steps the operation has stayed Running after applying.
        refresh_after_op: An operation ended; the next step refreshes.
        progressing_pending: A sync succeeded; the next refresh reports Progressing.
        health_wait: Steps until the final health is written, when Progressing.
    """

    uid: str
    live: tuple[list[str], list[dict[str, Any]]] | None = None
    plan: Plan | None = None
    op_steps: int = 0
    refresh_after_op: bool = False
    progressing_pending: bool = False
    health_wait: int | None = None


@dataclass(frozen=True)
class Transition:
    """One write of an Application by the simulated controller.

    Attributes:
        what: The log line's description (``operation Succeeded``).
        event: The ``OperationCompleted`` Event to record after the write, as its type
            (``Normal`` or ``Warning``) and message.
    """

    what: str
    event: tuple[str, str] | None = None


def health(status: str, message: str, clock: Callable[[], datetime]) -> dict[str, Any]:
    """``status.health`` with ``status`` and ``message``, changed now."""
    written: dict[str, Any] = {"status": status, "lastTransitionTime": timestamp(clock())}
    if message:
        written["message"] = message
    return written


def live_from_status(app: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]]] | None:
    """What an app the simulator has not seen before is deployed at, read from its status."""
    # A recorded app that is Synced is deployed at the revision it reports.
    sync = (app.get("status") or {}).get("sync") or {}
    compared = sync.get("comparedTo") or {}
    if sync.get("status") != "Synced":
        return None
    if sync.get("revisions"):
        return list(sync["revisions"]), [dict(s) for s in compared.get("sources", [])]
    if sync.get("revision"):
        source = compared.get("source")
        return [sync["revision"]], [dict(source)] if source else []
    return None

"""The pod logs the fake Kubernetes API server answers on ``GET .../pods/{name}/log``.

A pod's log comes from one of two places. A test may fix its whole text
(:meth:`PodLogs.set_text`). A pod simulator (:mod:`kargo_dagster.testing.pod_sim`) instead
opens the log when the pod's containers start (:meth:`PodLogs.open`) and appends lines as
the process prints them (:meth:`PodLogs.append`), each stamped with an RFC 3339 time to the
nanosecond; those lines take precedence.

:meth:`PodLogs.answer` reads the ``/log`` query (``container``, ``timestamps``,
``tailLines``, ``follow``) into the text to send, or into a :class:`LogFollow` that
:meth:`PodLogs.follow` streams line by line until every container of the pod has
terminated, the pod is deleted, or the server stops.
"""

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kargo_dagster.testing.kube_errors import bad_request

__all__ = ["LogFollow", "PodLogs"]

# How often a log follower re-reads the pod's status while no line arrives: it learns of
# termination and deletion from the store, which does not share the log's condition.
_FOLLOW_POLL = 0.05

_TRUE = {"true", "1", "t"}


@dataclass
class _PodLog:
    """The lines a simulated pod printed: (RFC 3339 nanosecond time, text), oldest first."""

    lines: list[tuple[str, str]]
    last_ns: int = 0


@dataclass(frozen=True)
class LogFollow:
    """A ``follow=true`` log request to stream once the response headers are out.

    Attributes:
        namespace: The pod's namespace.
        name: The pod's name.
        uid: The pod's ``uid``: a pod created anew under the same name ends the stream.
        first_container: Whether the request is for the pod's first container, the one
            simulated lines belong to.
        timestamps: Whether each line is prefixed with its time and a space.
        start: How many of the lines already printed to skip (``tailLines``).
    """

    namespace: str
    name: str
    uid: str
    first_container: bool
    timestamps: bool
    start: int


def _nano_timestamp(ns: int) -> str:
    """``ns`` nanoseconds since the epoch as a Kubernetes log time (9 fractional digits)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    whole = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{fraction:09d}Z"


def _log_line(line: tuple[str, str], timestamps: bool) -> str:
    stamp, text = line
    return f"{stamp} {text}\n" if timestamps else f"{text}\n"


def _all_terminated(pod: Mapping[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all((s.get("state") or {}).get("terminated") for s in statuses)


class PodLogs:
    """Every pod's log, fixed or simulated. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Followers wait on this for appended lines and for the server to stop.
        self._changed = threading.Condition(self._lock)
        self._texts: dict[tuple[str, str], str] = {}
        self._lines: dict[tuple[str, str], _PodLog] = {}
        self._stopped = False

    def start(self) -> None:
        """Let followers stream (again), as the server starts serving."""
        with self._lock:
            self._stopped = False

    def stop(self) -> None:
        """End every stream, as the server stops."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def set_text(self, namespace: str, name: str, text: str) -> None:
        """The pod's whole log, answered unless it has a simulated one."""
        with self._lock:
            self._texts[(namespace, name)] = text

    def open(self, namespace: str, name: str) -> None:
        """Start an empty simulated log for the pod, replacing any earlier one."""
        with self._changed:
            self._lines[(namespace, name)] = _PodLog([])
            self._changed.notify_all()

    def append(self, namespace: str, name: str, line: str) -> str:
        """Add one line (without its newline) to the pod's simulated log; its timestamp.

        The timestamp is the current time to the nanosecond, made later than the pod's
        previous line when the clock has not moved: dagster-k8s joins lines that share a
        timestamp into one message.
        """
        with self._changed:
            log = self._lines.setdefault((namespace, name), _PodLog([]))
            log.last_ns = max(time.time_ns(), log.last_ns + 1)
            stamp = _nano_timestamp(log.last_ns)
            log.lines.append((stamp, line))
            self._changed.notify_all()
            return stamp

    def lines(self, namespace: str, name: str) -> list[str]:
        """The pod's simulated log lines so far, without timestamps."""
        with self._lock:
            log = self._lines.get((namespace, name))
            return [text for _, text in log.lines] if log else []

    def answer(self, pod: Mapping[str, Any], query: Mapping[str, list[str]]) -> str | LogFollow:
        """The answer to ``GET .../log`` for ``pod``: the text, or a stream to follow.

        Raises:
            KubeAPIError: 400 for a container the pod does not have or a bad ``tailLines``.
        """
        meta = pod["metadata"]
        namespace, name = meta.get("namespace") or "", meta["name"]
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container", [""])[0]
        if container and container not in names:
            raise bad_request(f"container {container} is not valid for pod {name}")
        timestamps = query.get("timestamps", ["false"])[0].lower() in _TRUE
        tail = query.get("tailLines", [""])[0]
        if tail and not tail.isdigit():
            raise bad_request(f"tailLines must be a non-negative integer, not {tail!r}")
        first = not container or container == names[0]
        with self._lock:
            log = self._lines.get((namespace, name))
            if log is None:
                text = self._texts.get((namespace, name), "")
                if not tail:
                    return text
                kept = text.splitlines(keepends=True)
                return "".join(kept[max(len(kept) - int(tail), 0) :])
            lines = log.lines if first else []
            start = max(len(lines) - int(tail), 0) if tail else 0
            if query.get("follow", ["false"])[0].lower() in _TRUE:
                uid = str(meta.get("uid") or "")
                return LogFollow(namespace, name, uid, first, timestamps, start)
            return "".join(_log_line(line, timestamps) for line in lines[start:])

    def follow(
        self,
        follow: LogFollow,
        find_pod: Callable[[], Mapping[str, Any] | None],
        write: Callable[[bytes], None],
    ) -> None:
        """Write the pod's lines as they are appended until it terminates or is deleted.

        Args:
            follow: The stream to serve.
            find_pod: Reads the pod as stored now (None once it is deleted).
            write: Sends one encoded line to the client.
        """
        sent = follow.start
        key = (follow.namespace, follow.name)
        while True:
            # Read the pod before the lines: once it is seen terminated, every line its
            # process printed was already appended.
            pod = find_pod()
            gone = pod is None or str(pod["metadata"].get("uid") or "") != follow.uid
            finished = gone or _all_terminated(pod or {})
            with self._changed:
                log = self._lines.get(key)
                lines = log.lines[sent:] if log and follow.first_container else []
                stopped = self._stopped
            for line in lines:
                write(_log_line(line, follow.timestamps).encode())
            sent += len(lines)
            if finished or stopped:
                return
            with self._changed:
                log = self._lines.get(key)
                waiting = log is None or not follow.first_container or len(log.lines) <= sent
                if waiting and not self._stopped:
                    # Woken by an append or the server stopping; otherwise polls the status.
                    self._changed.wait(timeout=_FOLLOW_POLL)

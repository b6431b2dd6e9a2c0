"""The cursor that lets a sensor tick skip reading a Project's state when nothing changed.

A tick that reads the state records, in its cursor, the instance's watermark (the newest
event, the runs' latest update, the Freight partitions: see
:meth:`~kargo_dagster.defs.dagster_internals.StorageSession.watermark`), a fingerprint of the
manifests it judged by, and the time at which time alone may change its answer (a soak that
completes). The next tick compares: with the same watermark and fingerprint, before that time,
nothing it would decide can differ, so it costs the watermark's queries and ends. The cursor is
a speed-up only: an unreadable or missing one means a full tick.
"""

import hashlib
import json
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import BaseModel, ConfigDict, ValidationError

from kargo_dagster.defs.dagster_internals import StorageSession, storage_session

__all__ = ["Tick", "TickCursor", "fingerprint", "watched_tick"]

_VERSION = 1


class TickCursor(BaseModel):
    """What a tick that read the state saw.

    Attributes:
        watermark: The instance's watermark when the tick read it.
        fingerprint: What the tick judged by (the Project's manifests).
        wake_at: When time alone may change the answer (epoch seconds), if ever.
        note: What the tick concluded, repeated by quiet ticks.
    """

    model_config = ConfigDict(frozen=True)

    version: int = _VERSION
    watermark: list[Any]
    fingerprint: str
    wake_at: float | None = None
    note: str = ""

    @classmethod
    def parse(cls, text: str | None) -> "TickCursor | None":
        """The cursor in ``text``, or None when there is none or it cannot be read."""
        if not text:
            return None
        try:
            cursor = cls.model_validate_json(text)
        except ValidationError:
            return None
        return cursor if cursor.version == _VERSION else None

    def still(self, watermark: list[Any], fingerprint: str, now: float) -> bool:
        """Whether nothing the tick judged by has changed since this cursor was written."""
        return (
            self.watermark == watermark
            and self.fingerprint == fingerprint
            and (self.wake_at is None or now < self.wake_at)
        )

    def dump(self) -> str:
        """The cursor as the text Dagster stores."""
        return self.model_dump_json()


def fingerprint(*parts: Any) -> str:
    """A short, stable digest of ``parts`` (JSON-able data)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Tick:
    """A sensor tick under way: its storage session, its time, what it saw.

    Attributes:
        session: Open connections to the instance.
        now: When the tick started (epoch seconds).
        quiet: The previous tick's cursor when nothing changed since it was written.
    """

    session: StorageSession
    now: float
    watermark: list[Any]
    fingerprint: str
    quiet: TickCursor | None

    def cursor(self, *, wake_at: float | None = None, note: str = "") -> TickCursor:
        """The cursor this tick leaves for the next one."""
        return TickCursor(
            watermark=self.watermark, fingerprint=self.fingerprint, wake_at=wake_at, note=note
        )


@contextmanager
def watched_tick(
    context: dg.SensorEvaluationContext,
    partitions_defs: Collection[str],
    judged_by: str,
    unwatched: Collection[dg.AssetKey] = (),
    silent: Collection[dg.AssetKey] = (),
) -> Iterator[Tick]:
    """Start a tick: read the instance's watermark and compare it with the cursor's.

    Observations of the ``unwatched`` assets, and any event of the ``silent`` ones, do not
    count as changes: what the tick judges by is not in them (the Warehouses' Freight status
    and metadata, the pipeline view).
    """
    now = time.time()
    previous = TickCursor.parse(context.cursor)
    with storage_session(context.instance) as session:
        watermark = session.watermark(partitions_defs, unwatched, silent)
        unchanged = previous is not None and previous.still(watermark, judged_by, now)
        yield Tick(session, now, watermark, judged_by, previous if unchanged else None)

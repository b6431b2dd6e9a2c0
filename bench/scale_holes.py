"""Serialized text with named holes, and the templates of what a promotion run stores.

A :class:`Hole` is a text (an event as Dagster serializes it, a run body, a tag) cut at every
value that differs from run to run; :func:`check_residue` refuses a template in which a value
of the run it was cut from is left. :class:`RunTemplate` holds one run's events with what the
generator needs for the tables derived from them (``asset_check_executions``,
``asset_event_tags``, ``runs``, ``run_tags``).
"""

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

__all__ = [
    "EPOCH",
    "HEX40",
    "HEX64",
    "ISO",
    "ISO_Z",
    "ULID",
    "EventTemplate",
    "Hole",
    "RunTemplate",
    "Templates",
    "check_residue",
    "utc_iso",
]

# The data version of an input partition never materialized with one (a Freight record).
CONSTANT_HASHES = {hashlib.sha256(b"").hexdigest()}

EPOCH = re.compile(r"\b1[5-9]\d{8}\.\d+")
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|\+00:00)?")
HEX40 = re.compile(r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])")
HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
ULID = re.compile(r"\.([0-9a-z]{26})\.")


class Hole:
    """A serialized text with named holes: literal pieces and the names between them."""

    __slots__ = ("literals", "names")

    def __init__(self, text: str, holes: Mapping[str, str]):
        """Cut ``text`` at every occurrence of a key of ``holes`` (literal -> hole name);
        longer literals win where two overlap."""
        self.literals: list[str] = []
        self.names: list[str] = []
        if not holes:
            self.literals.append(text)
            return
        pattern = re.compile("|".join(re.escape(k) for k in sorted(holes, key=len, reverse=True)))
        position = 0
        for match in pattern.finditer(text):
            self.literals.append(text[position : match.start()])
            self.names.append(holes[match.group()])
            position = match.end()
        self.literals.append(text[position:])

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with each hole replaced by its value."""
        literals = self.literals
        parts = [literals[0]]
        for index, name in enumerate(self.names, 1):
            parts.append(values[name])
            parts.append(literals[index])
        return "".join(parts)

    def text(self) -> str:
        """The template itself, holes shown as ``{name}`` (for checks and debugging)."""
        return self.fill({name: "{" + name + "}" for name in self.names})


@dataclass(frozen=True)
class EventTemplate:
    """One stored event: its ``event_logs`` columns and its role for the derived tables."""

    offset: float
    event_type: str | None
    step_key: Hole | None
    asset_key: Hole | None
    check_asset_key: Hole | None
    has_partition: bool
    body: Hole
    # "materialization", "check_planned", "check_evaluation", "data_version" or "".
    role: str
    check_name: str | None = None
    check_passed: bool | None = None


@dataclass(frozen=True)
class RunTemplate:
    """A whole run: its events, its final ``runs`` row and tags, and when things happened."""

    stage_class: str
    outcome: str
    events: list[EventTemplate]
    run_body: Hole
    tags: list[tuple[Hole, Hole]]
    status: str
    start_offset: float
    end_offset: float

    @cached_property
    def iso_holes(self) -> list[str]:
        """The names of the holes for ISO times (``iso<seconds after creation>``)."""
        names = {n for e in self.events for n in e.body.names if n.startswith("iso")}
        return sorted(names)

    @property
    def duration(self) -> float:
        """Seconds from the run's creation to its last event."""
        return self.events[-1].offset


@dataclass(frozen=True)
class Templates:
    """Every run template, by (Stage class, outcome)."""

    runs: dict[tuple[str, str], RunTemplate]


def check_residue(text: str, holes: Mapping[str, str], markers: Sequence[str], what: str) -> None:
    """Refuse a template that still holds a value of the run it was cut from: a time near
    now, a SHA-1 or SHA-256, or any of ``markers`` (values only the scratch run had)."""
    rest = Hole(text, holes).text()
    problems = [f"epoch {m}" for m in EPOCH.findall(rest) if abs(float(m) - time.time()) < 86400]
    problems += [f"time {m}" for m in ISO.findall(rest)]
    problems += [f"sha1 {m}" for m in HEX40.findall(rest)]
    problems += [f"sha256 {m}" for m in HEX64.findall(rest) if m not in CONSTANT_HASHES]
    problems += [f"scratch value {m!r}" for m in markers if m in rest]
    if problems:
        raise RuntimeError(f"{what}: run-specific values left in the template: {problems[:5]}")


def utc_iso(timestamp: float) -> str:
    """``timestamp`` as the AnalysisRun metadata writes times: ``2026-01-02T03:04:05Z``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

"""Which Freight a name given on the command line means.

People name Freight the way they know it: by a version they shipped (an image tag, a chart
version, a git tag or short commit: ``v0.3.0``), by its Kargo ID or a prefix of it, by its
alias, or by the partition key the UI shows. :func:`resolve_freight` turns any of these into
the one partition key of Freight recorded by a Warehouse the Stage requests, matching on what
the Warehouses recorded (their materializations' artifacts), never on the partition key's
format, which is a display choice that may change.

Everything is read in bulk: one query for an exact key, else one for the Warehouses' newest
partitions and one for their records, whatever the number of Freight.
"""

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from kargo_dagster.defs.dagster_internals import StorageSession, storage_session
from kargo_dagster.defs.names import META_FREIGHT_JSON, freight_partitions_name, warehouse_key
from kargo_dagster.errors import FreightError, PromotionRefusedError
from kargo_dagster.freight import Freight
from kargo_dagster.spec import ProjectManifests

__all__ = ["RecordedFreight", "recorded_freight", "resolve_freight"]

# How many of each Warehouse's newest Freight a version, ID or alias is looked for in. Older
# Freight is still reachable by its exact partition key (a query of its own, by index).
SEARCHED = 1000
# How many of the newest Freight an error lists, and how many close names it suggests.
NEWEST_SHOWN = 5
CLOSEST_SHOWN = 3
# difflib's similarity a suggestion needs (as spec.diagnostics.did_you_mean asks), and how
# far behind the closest name it may be.
_CUTOFF = 0.6
_MARGIN = 0.1
# A Freight ID or commit prefix: Kargo and git show 7 hex digits, fewer is too ambiguous.
_HEX_PREFIX = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class RecordedFreight:
    """Freight a Warehouse recorded: its partition key and its artifacts."""

    key: str
    freight: Freight

    @property
    def versions(self) -> tuple[str, ...]:
        """The versions people call it by (:attr:`Freight.versions`)."""
        return self.freight.versions

    def describe(self) -> str:
        """``key (v1.2.3, 4.5.6)``, for lists of candidates."""
        versions = ", ".join(self.versions)
        return f"{self.key} ({versions})" if versions else self.key

    def matches(self, given: str) -> bool:
        """Whether ``given`` names this Freight other than by its partition key."""
        freight = self.freight
        if given == freight.alias:
            return True
        lowered = given.lower()
        if _HEX_PREFIX.match(lowered) and (
            freight.id.startswith(lowered)
            or any(commit.id.startswith(lowered) for commit in freight.commits)
        ):
            return True
        names = {
            *(image.tag for image in freight.images),
            *(chart.version for chart in freight.charts),
            *(commit.tag for commit in freight.commits),
        } - {""}
        # "1.2.3" for a tag "v1.2.3" and the other way round: SemVer tags are written both
        # ways, and no Warehouse tells them apart in its ordering.
        return given in names or _unprefixed(given) in {_unprefixed(n) for n in names}


def _unprefixed(version: str) -> str:
    return version[1:] if version[:1] in ("v", "V") and version[1:2].isdigit() else version


def recorded_freight(
    session: StorageSession, project: ProjectManifests, warehouses: Sequence[str]
) -> dict[str, list[RecordedFreight]]:
    """The newest :data:`SEARCHED` Freight each of ``warehouses`` recorded, newest first."""
    names = {freight_partitions_name(project.name, w): w for w in warehouses}
    newest = session.newest_partitions(names, SEARCHED)
    keys = {key for found in newest.values() for key in found}
    metadata = session.latest_materialization_metadata(
        [warehouse_key(project.name, w) for w in warehouses], keys
    )
    artifacts: dict[str, Freight] = {}
    for (_, partition), entries in metadata.items():
        value = getattr(entries.get(META_FREIGHT_JSON), "value", None)
        if isinstance(value, dict):
            try:
                artifacts[partition] = Freight.from_json(value)
            except FreightError:
                continue  # a record this version cannot read names nothing to match
    return {
        names[name]: [RecordedFreight(key, artifacts[key]) for key in found if key in artifacts]
        for name, found in newest.items()
    }


def resolve_freight(
    instance: dg.DagsterInstance, project: ProjectManifests, *, stage: str, given: str
) -> str:
    """The partition key of the Freight ``given`` names, among the Freight of the
    Warehouses ``stage`` requests.

    Args:
        instance: The Dagster instance holding the Warehouses' records.
        project: The Stage's Project.
        stage: The Stage (an existing one).
        given: A partition key, a version (image tag, chart version, git tag, short
            commit), a Freight ID or a prefix of 7 or more hex digits, or an alias.

    Raises:
        PromotionRefusedError: Nothing matches (the message suggests close names and lists
            the newest Freight), or several Freight do (the message lists them).
    """
    warehouses = [r.origin.name for r in project.stages[stage].spec.requested_freight]
    partitions = [freight_partitions_name(project.name, w) for w in warehouses]
    with storage_session(instance) as session:
        if session.existing_partitions(partitions, [given]):
            return given
        recorded = recorded_freight(session, project, warehouses)
    every = [found for warehouse in warehouses for found in recorded.get(warehouse, [])]
    matched = [found for found in every if found.matches(given)]
    if len(matched) == 1:
        return matched[0].key
    if matched:
        candidates = "; ".join(found.describe() for found in matched)
        raise PromotionRefusedError(
            f"{given} names {len(matched)} Freight of Stage {stage}'s Warehouse(s): "
            f"{candidates}. Give one of these partition keys"
        )
    raise PromotionRefusedError(
        f"no Freight {given} recorded by the Warehouse(s) Stage {stage} requests "
        f"({', '.join(warehouses)}){_closest(given, every)}{_newest(warehouses, recorded)}"
    )


def _closest(given: str, every: Iterable[RecordedFreight]) -> str:
    # Suggest partition keys, whichever of a Freight's names came closest.
    names: dict[str, str] = {}
    for found in every:
        for name in (found.key, found.freight.alias, *found.versions):
            names.setdefault(name, found.key)
    scored = sorted(
        ((difflib.SequenceMatcher(None, given, name).ratio(), name) for name in names),
        reverse=True,
    )
    # Only the names nearly as close as the closest: v0.3.1 suggests v0.3.0, not every v0.x.
    best = scored[0][0] if scored else 0.0
    close = [name for ratio, name in scored if ratio >= max(_CUTOFF, best - _MARGIN)]
    keys = list(dict.fromkeys(names[name] for name in close))[:CLOSEST_SHOWN]
    if not keys:
        return ""
    return "; did you mean " + " or ".join(repr(key) for key in keys) + "?"


def _newest(warehouses: Sequence[str], recorded: dict[str, list[RecordedFreight]]) -> str:
    parts: list[str] = []
    for warehouse in warehouses:
        found = recorded.get(warehouse, [])
        if found:
            listed = ", ".join(f.describe() for f in found[:NEWEST_SHOWN])
            parts.append(f"newest of Warehouse {warehouse}: {listed}")
        else:
            parts.append(f"Warehouse {warehouse} has recorded no Freight yet")
    return " (" + "; ".join(parts) + ")"

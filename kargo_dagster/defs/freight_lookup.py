"""Which Freight a name given on the command line means.

People name Freight the way they know it: by a version they shipped (an image tag, a chart
version, a git tag or short commit: ``v0.3.0``), by its Kargo ID or a prefix of it, by its
current alias (:mod:`kargo_dagster.defs.freight_aliases`), or by the partition key the UI
shows. :func:`resolve_freight` turns any of these into the one partition key of Freight
recorded by a Warehouse the Stage requests (:func:`locate_freight`, by any Warehouse of the
Project), matching on what the Warehouses recorded (their materializations' artifacts), never
on the partition key's format, which is a display choice that may change.

Everything is read in bulk: one query for an exact key, else one for the Warehouses' newest
partitions, one for their records and one for the aliases set, whatever the number of Freight.
"""

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from kargo_dagster.defs.dagster_internals import StorageSession, storage_session
from kargo_dagster.defs.freight_aliases import set_aliases
from kargo_dagster.defs.names import META_FREIGHT_JSON, freight_partitions_name, warehouse_key
from kargo_dagster.errors import FreightError, PromotionRefusedError
from kargo_dagster.freight import Freight
from kargo_dagster.spec import ProjectManifests

__all__ = ["RecordedFreight", "locate_freight", "recorded_freight", "resolve_freight"]

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
    """Freight a Warehouse recorded.

    Attributes:
        key: Its partition key.
        freight: Its artifacts.
        alias: Its current alias.
        created: When it was recorded (epoch seconds), when that was read.
    """

    key: str
    freight: Freight
    alias: str
    created: float | None = None

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
        if given == self.alias:
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
    session: StorageSession,
    project: ProjectManifests,
    warehouses: Sequence[str],
    *,
    created: bool = False,
    limit: int = SEARCHED,
) -> dict[str, list[RecordedFreight]]:
    """The newest ``limit`` Freight each of ``warehouses`` recorded, newest first, with
    their current aliases, and with ``created`` when each was recorded (one more query)."""
    names = {freight_partitions_name(project.name, w): w for w in warehouses}
    newest = session.newest_partitions(names, limit)
    keys = {key for found in newest.values() for key in found}
    assets = [warehouse_key(project.name, w) for w in warehouses]
    metadata = session.latest_materialization_metadata(assets, keys)
    aliases = set_aliases(session, project.name, {names[n]: k for n, k in newest.items()})
    times = session.first_materialization_times(assets, keys) if created else {}
    artifacts: dict[str, Freight] = {}
    for (_, partition), entries in metadata.items():
        value = getattr(entries.get(META_FREIGHT_JSON), "value", None)
        if isinstance(value, dict):
            try:
                artifacts[partition] = Freight.from_json(value)
            except FreightError:
                continue  # a record this version cannot read names nothing to match
    return {
        names[name]: [
            RecordedFreight(
                key, artifacts[key], aliases.get(key, artifacts[key].alias), times.get(key)
            )
            for key in found
            if key in artifacts
        ]
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
    scope = (f"Stage {stage}'s Warehouse(s)", f"the Warehouse(s) Stage {stage} requests")
    try:
        return _locate(instance, project, warehouses, given, scope)[1]
    except FreightError as error:
        raise PromotionRefusedError(str(error)) from None


def locate_freight(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    *,
    given: str,
    warehouses: Sequence[str] | None = None,
) -> tuple[str, str]:
    """The Warehouse and partition key of the Freight ``given`` names (in any of the forms
    :func:`resolve_freight` takes), among the Freight of ``warehouses`` (default: all the
    Project's).

    Raises:
        FreightError: Nothing matches (the message suggests close names and lists the
            newest Freight), or several Freight do (the message lists them).
    """
    chosen = list(project.warehouses) if warehouses is None else list(warehouses)
    scope = (f"Project {project.name}", f"any Warehouse of Project {project.name}")
    return _locate(instance, project, chosen, given, scope)


def _locate(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    warehouses: Sequence[str],
    given: str,
    scope: tuple[str, str],
) -> tuple[str, str]:
    # scope: how messages name the Freight searched, as an owner and as a place.
    partitions = {freight_partitions_name(project.name, w): w for w in warehouses}
    with storage_session(instance) as session:
        exact = bool(session.existing_partitions(partitions, [given]))
        recorded = {} if exact else recorded_freight(session, project, warehouses)
    if exact:
        # One probe per Warehouse, and only when there are several to tell apart.
        for name, warehouse in partitions.items():
            if len(partitions) == 1 or instance.has_dynamic_partition(name, given):
                return warehouse, given
    every = [found for warehouse in warehouses for found in recorded.get(warehouse, [])]
    matched = [found for found in every if found.matches(given)]
    if len(matched) == 1:
        return matched[0].freight.origin.name, matched[0].key
    if matched:
        candidates = "; ".join(found.describe() for found in matched)
        raise FreightError(
            f"{given} names {len(matched)} Freight of {scope[0]}: "
            f"{candidates}. Give one of these partition keys"
        )
    raise FreightError(
        f"no Freight {given} recorded by {scope[1]} "
        f"({', '.join(warehouses)}){_closest(given, every)}{_newest(warehouses, recorded)}"
    )


def _closest(given: str, every: Iterable[RecordedFreight]) -> str:
    # Suggest partition keys, whichever of a Freight's names came closest.
    names: dict[str, str] = {}
    for found in every:
        for name in (found.key, found.alias, *found.versions):
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

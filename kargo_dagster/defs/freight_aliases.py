"""The current alias of each Freight: the one home for reading and recording it.

Kargo gives every Freight a readable alias, unique within its Project and mutable (the UI,
the CLI and the ``set-freight-alias`` step change it). Here a Freight's alias starts as the
one derived from its ID (:attr:`kargo_dagster.freight.Freight.alias`, recorded with the
Freight); each change is an observation on the Freight's partition of its Warehouse asset
carrying :data:`META_ALIAS`, so the newest such observation is the current alias and the
event log keeps every earlier one. Reads are in bulk: one query for the aliases set, and one
for the recorded aliases of the Freight that never had one set.
"""

import re
from collections.abc import Collection, Mapping

import dagster as dg

from kargo_dagster.defs.dagster_internals import StorageSession
from kargo_dagster.defs.names import META_ACTOR, META_FREIGHT_JSON, warehouse_key
from kargo_dagster.errors import FreightAliasError, FreightError
from kargo_dagster.freight import Freight

__all__ = [
    "META_ALIAS",
    "META_RECORDED_ALIAS",
    "alias_observation",
    "check_alias",
    "current_aliases",
    "set_aliases",
]

# The alias a person or a promotion step set, on an observation of the Freight's partition.
META_ALIAS = "kargo/alias"
# The alias derived from the ID, recorded with the Freight (freight_store.freight_metadata).
META_RECORDED_ALIAS = "kargo/freight_alias"
# Kargo mirrors the alias to a label, so it must be a Kubernetes label value.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE_MAX = 63


def check_alias(alias: str) -> str:
    """``alias`` if Kargo would accept it (a Kubernetes label value, as Kargo mirrors it to
    the label ``kargo.akuity.io/alias``).

    Raises:
        FreightAliasError: It is empty, longer than 63 characters, or has other characters
            than letters, digits, ``-``, ``_`` and ``.`` (which may not start or end it).
    """
    if len(alias) > _LABEL_VALUE_MAX or not _LABEL_VALUE.match(alias):
        raise FreightAliasError(
            f"alias {alias!r} is not a valid alias: use at most {_LABEL_VALUE_MAX} letters, "
            "digits, '-', '_' and '.', starting and ending with a letter or digit"
        )
    return alias


def set_aliases(
    session: StorageSession, project: str, keys: Mapping[str, Collection[str]]
) -> dict[str, str]:
    """The alias last set on each Freight of ``keys`` (partition keys by Warehouse) that had
    one set, by partition key: one query."""
    assets = [warehouse_key(project, warehouse) for warehouse in keys]
    partitions = {key for found in keys.values() for key in found}
    rows = session.latest_observations_containing(assets, partitions, META_ALIAS)
    aliases: dict[str, str] = {}
    for (_, partition), row in rows.items():
        value = getattr(row.metadata.get(META_ALIAS), "value", None)
        if isinstance(value, str) and value:
            aliases[partition] = value
    return aliases


def current_aliases(
    session: StorageSession, project: str, keys: Mapping[str, Collection[str]]
) -> dict[str, str]:
    """The current alias of each Freight of ``keys`` (partition keys by Warehouse) that was
    recorded, by partition key: the alias last set, else the one recorded with the Freight.
    Two queries at most."""
    aliases = set_aliases(session, project, keys)
    rest = {key for found in keys.values() for key in found} - set(aliases)
    assets = [warehouse_key(project, warehouse) for warehouse in keys]
    for (_, partition), metadata in session.latest_materialization_metadata(assets, rest).items():
        recorded = _recorded_alias(metadata)
        if recorded:
            aliases[partition] = recorded
    return aliases


def _recorded_alias(metadata: Mapping[str, object]) -> str | None:
    value = getattr(metadata.get(META_RECORDED_ALIAS), "value", None)
    if isinstance(value, str) and value:
        return value
    # Records without the alias entry still carry the Freight, whose ID derives it.
    raw = getattr(metadata.get(META_FREIGHT_JSON), "value", None)
    if isinstance(raw, dict):
        try:
            return Freight.from_json(raw).alias
        except FreightError:
            return None
    return None


def alias_observation(
    project: str, warehouse: str, key: str, alias: str, *, before: str, actor: str | None
) -> dg.AssetObservation:
    """The observation that gives the Freight ``key`` of ``warehouse`` the alias ``alias``."""
    who = f" by {actor}" if actor else ""
    metadata: dict[str, str] = {META_ALIAS: alias}
    if actor:
        metadata[META_ACTOR] = actor
    return dg.AssetObservation(
        asset_key=warehouse_key(project, warehouse),
        partition=key,
        description=f"Freight {key} renamed from {before} to {alias}{who}",
        metadata=metadata,
    )

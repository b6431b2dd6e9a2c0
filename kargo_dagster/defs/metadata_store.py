"""Stage and Freight metadata (``set-metadata``, ``set-freight-alias``) kept in Dagster.

Kargo stores them on the Stage and Freight objects. Here each update is an observation:
Stage metadata on the Stage asset, Freight metadata and aliases on the Freight's partition of
its Warehouse asset. An update merges its values into the metadata so far (a key set again
takes its new value, as in Kargo) and records the whole result, so the newest observation
holds the current metadata and the asset's event log keeps every earlier state for the audit
trail. The current metadata of every Stage, or of any number of Freight, is one query
(:func:`read_stage_metadata`, :func:`read_freight_metadata`), which is how ``status`` and the
pipeline view show it. Aliases are read and written through
:mod:`kargo_dagster.defs.freight_aliases` and
:func:`~kargo_dagster.defs.manual_freight.rename_freight`, which keeps them unique.
"""

import json
from collections.abc import Collection, Mapping
from typing import Any

import dagster as dg

from kargo_dagster.defs.dagster_internals import ObservationRow, StorageSession, storage_session
from kargo_dagster.defs.freight_aliases import current_aliases
from kargo_dagster.defs.manual_freight import rename_freight
from kargo_dagster.defs.names import freight_partitions_name, stage_key, warehouse_key
from kargo_dagster.errors import FreightAliasError, TerminalStepError
from kargo_dagster.spec import ProjectManifests

META_STAGE_METADATA = "kargo/stage_metadata"
META_FREIGHT_METADATA = "kargo/freight_metadata"


def stage_metadata_key(project: ProjectManifests, stage: str) -> dg.AssetKey:
    """The asset whose observations hold ``stage``'s metadata.

    Stage metadata belongs to the Stage, not to one origin: a Stage requesting several
    origins keeps it on its first origin's asset.
    """
    spec = project.stages.get(stage)
    origins = [r.origin.name for r in spec.spec.requested_freight] if spec else []
    return stage_key(project.name, stage, origins[0] if len(origins) > 1 else None)


def read_stage_metadata(
    session: StorageSession, project: ProjectManifests
) -> dict[str, dict[str, Any]]:
    """Every Stage's current metadata, by Stage name (Stages without any left out): one
    query."""
    keys = {stage_metadata_key(project, stage): stage for stage in project.stages}
    found = session.latest_unpartitioned_observations_containing(keys, META_STAGE_METADATA)
    return {keys[asset]: _values(row, META_STAGE_METADATA) for asset, row in found.items()}


def read_freight_metadata(
    session: StorageSession, project: str, keys: Mapping[str, Collection[str]]
) -> dict[str, dict[str, Any]]:
    """The current metadata of each Freight of ``keys`` (partition keys by Warehouse) that
    has any, by partition key: one query."""
    assets = [warehouse_key(project, warehouse) for warehouse in keys]
    partitions = {key for found in keys.values() for key in found}
    rows = session.latest_observations_containing(assets, partitions, META_FREIGHT_METADATA)
    return {partition: _values(row, META_FREIGHT_METADATA) for (_, partition), row in rows.items()}


def _values(row: ObservationRow | None, field: str) -> dict[str, Any]:
    value = getattr(row.metadata.get(field), "value", None) if row is not None else None
    return dict(value) if isinstance(value, dict) else {}


class DagsterMetadataStore:
    """A :class:`~kargo_dagster.promotion.step.MetadataStore` over a Dagster instance.

    Freight is named by its partition key or by its Kargo Freight ID; Stages by name.
    """

    def __init__(self, instance: dg.DagsterInstance, project: ProjectManifests) -> None:
        self._instance = instance
        self._project = project

    def stage_metadata(self, stage: str) -> dict[str, Any]:
        """The Stage's current metadata."""
        with storage_session(self._instance) as session:
            return read_stage_metadata(session, self._project).get(stage, {})

    def freight_metadata(self, freight: str) -> dict[str, Any]:
        """The Freight's current metadata."""
        located = self._freight(freight)
        return {} if located is None else self._current_freight_metadata(*located)

    def update_stage_metadata(self, stage: str, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the Stage's metadata."""
        merged = {**self.stage_metadata(stage), **values}
        self._observe(stage_metadata_key(self._project, stage), None, META_STAGE_METADATA, merged)

    def update_freight_metadata(self, freight: str, values: Mapping[str, Any]) -> None:
        """Merge ``values`` into the Freight's metadata."""
        key, partition = self._require_freight(freight)
        merged = {**self._current_freight_metadata(key, partition), **values}
        self._observe(key, partition, META_FREIGHT_METADATA, merged)

    def set_freight_alias(self, freight: str, alias: str) -> None:
        """Record a new alias for the Freight (its partition key stays the same).

        Raises:
            TerminalStepError: No such Freight, or the alias is malformed or another
                Freight's (Kargo refuses a duplicate within the Project too).
        """
        key, partition = self._require_freight(freight)
        try:
            rename_freight(self._instance, self._project, key.path[-1], partition, alias)
        except FreightAliasError as error:
            raise TerminalStepError(str(error)) from None

    def freight_alias(self, freight: str) -> str | None:
        """The Freight's current alias (the one derived from its ID until another is set),
        or None when there is no such Freight."""
        located = self._freight(freight)
        if located is None:
            return None
        key, partition = located
        with storage_session(self._instance) as session:
            aliases = current_aliases(session, self._project.name, {key.path[-1]: [partition]})
        return aliases.get(partition)

    def _current_freight_metadata(self, key: dg.AssetKey, partition: str) -> dict[str, Any]:
        with storage_session(self._instance) as session:
            found = read_freight_metadata(session, self._project.name, {key.path[-1]: [partition]})
        return found.get(partition, {})

    def _freight(self, freight: str) -> tuple[dg.AssetKey, str] | None:
        for warehouse in self._project.warehouses:
            name = freight_partitions_name(self._project.name, warehouse)
            for partition in self._instance.get_dynamic_partitions(name):
                # A Freight is named by its partition key or by its Kargo ID, whose first
                # seven hex digits end the partition key.
                if freight == partition or (
                    len(freight) == 40 and partition.endswith("-" + freight[:7])
                ):
                    return warehouse_key(self._project.name, warehouse), partition
        return None

    def _require_freight(self, freight: str) -> tuple[dg.AssetKey, str]:
        located = self._freight(freight)
        if located is None:
            raise TerminalStepError(f"no Freight {freight!r} in Project {self._project.name}")
        return located

    def _observe(
        self, key: dg.AssetKey, partition: str | None, field: str, values: Mapping[str, Any]
    ) -> None:
        self._instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=key,
                partition=partition,
                metadata={field: dg.MetadataValue.json(json.loads(json.dumps(dict(values))))},
            )
        )

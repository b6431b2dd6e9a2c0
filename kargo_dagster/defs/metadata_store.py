"""Stage and Freight metadata (``set-metadata``, ``set-freight-alias``) kept in Dagster.

Kargo stores them on the Stage and Freight objects. Here each update is an observation:
Stage metadata on the Stage asset, Freight metadata and aliases on the Freight's partition of
its Warehouse asset. Reading merges the observations, oldest first, so the newest value of
each key wins and the history stays in the asset's event log for the audit trail. Aliases
are read and written through :mod:`kargo_dagster.defs.freight_aliases` and
:func:`~kargo_dagster.defs.manual_freight.rename_freight`, which keeps them unique.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.freight_aliases import current_aliases
from kargo_dagster.defs.manual_freight import rename_freight
from kargo_dagster.defs.names import freight_partitions_name, stage_key, warehouse_key
from kargo_dagster.errors import FreightAliasError, TerminalStepError
from kargo_dagster.spec import ProjectManifests

META_STAGE_METADATA = "kargo/stage_metadata"
META_FREIGHT_METADATA = "kargo/freight_metadata"

# Enough history for any realistic number of set-metadata steps per Stage or Freight.
_OBSERVATIONS = 500


class DagsterMetadataStore:
    """A :class:`~kargo_dagster.promotion.step.MetadataStore` over a Dagster instance.

    Freight is named by its partition key or by its Kargo Freight ID; Stages by name.
    """

    def __init__(self, instance: dg.DagsterInstance, project: ProjectManifests) -> None:
        self._instance = instance
        self._project = project

    def stage_metadata(self, stage: str) -> dict[str, Any]:
        """The Stage's metadata, merged from every update."""
        return self._merged(self._stage_key(stage), None, META_STAGE_METADATA)

    def freight_metadata(self, freight: str) -> dict[str, Any]:
        """The Freight's metadata, merged from every update."""
        located = self._freight(freight)
        if located is None:
            return {}
        return self._merged(located[0], located[1], META_FREIGHT_METADATA)

    def update_stage_metadata(self, stage: str, values: Mapping[str, Any]) -> None:
        """Record new values for the Stage."""
        self._observe(self._stage_key(stage), None, META_STAGE_METADATA, values)

    def update_freight_metadata(self, freight: str, values: Mapping[str, Any]) -> None:
        """Record new values for the Freight."""
        key, partition = self._require_freight(freight)
        self._observe(key, partition, META_FREIGHT_METADATA, values)

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

    def _stage_key(self, stage: str) -> dg.AssetKey:
        spec = self._project.stages.get(stage)
        origins = [r.origin.name for r in spec.spec.requested_freight] if spec else []
        # Stage metadata belongs to the Stage, not to one origin: keep it on the first asset.
        return stage_key(self._project.name, stage, origins[0] if len(origins) > 1 else None)

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

    def _observations(
        self, key: dg.AssetKey, partition: str | None, *, newest_first: bool
    ) -> list[Mapping[str, Any]]:
        records = self._instance.fetch_observations(
            dg.AssetRecordsFilter(
                asset_key=key, asset_partitions=[partition] if partition else None
            ),
            limit=_OBSERVATIONS,
            ascending=not newest_first,
        ).records
        return [r.asset_observation.metadata for r in records if r.asset_observation]

    def _merged(self, key: dg.AssetKey, partition: str | None, field: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for metadata in self._observations(key, partition, newest_first=False):
            value = metadata.get(field)
            if value is not None and isinstance(value.value, dict):
                merged.update(value.value)
        return merged

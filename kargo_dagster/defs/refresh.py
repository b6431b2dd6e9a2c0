"""Discovery on demand: run a Warehouse's discovery now and record new Freight.

``kargo-dagster refresh`` and the webhook receiver both come here. A refresh does what one
tick of the Warehouse's sensor does (the same subscribers, caches, budget and recording), so
Freight found either way is the same partition; the sensor's next tick finds it already
recorded and moves its cursor on.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from kargo_dagster.defs.freight_store import record_new_freight
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.warehouse_sensors import subscribers_for
from kargo_dagster.discovery.warehouse import WarehouseDiscovery, discover_warehouse
from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.spec import ProjectManifests
from kargo_dagster.spec.diagnostics import did_you_mean

__all__ = ["RefreshResult", "kargo_resource_of", "refresh_warehouses"]


@dataclass(frozen=True)
class RefreshResult:
    """What refreshing one Warehouse found and recorded.

    Attributes:
        project: The Project.
        warehouse: The Warehouse.
        discovery: The discovery pass.
        recorded: The partition key of Freight recorded now, or None.
        message: The outcome in words.
    """

    project: str
    warehouse: str
    discovery: WarehouseDiscovery
    recorded: str | None
    message: str

    @property
    def failed(self) -> bool:
        """Whether discovery failed."""
        return self.discovery.failed


def refresh_warehouses(
    instance: dg.DagsterInstance,
    kargo: KargoResource,
    project: ProjectManifests,
    warehouse_names: Iterable[str],
) -> list[RefreshResult]:
    """Discover each named Warehouse of ``project`` now and record Freight that is new.

    A Warehouse whose ``freightCreationPolicy`` is ``Manual`` records nothing (the result
    says so), and one whose discovery fails keeps its Freight (the result names the failing
    subscription).

    Raises:
        KargoDagsterError: A name is not a Warehouse of ``project``; nothing is refreshed.
    """
    names = list(dict.fromkeys(warehouse_names))
    for name in names:
        if name not in project.warehouses:
            hint = did_you_mean(name, project.warehouses)
            listed = ", ".join(sorted(project.warehouses)) or "none"
            raise KargoDagsterError(
                f"Project {project.name} has no Warehouse {name}{hint} ({listed})"
            )
    return [_refresh(instance, kargo, project, name) for name in names]


def _refresh(
    instance: dg.DagsterInstance, kargo: KargoResource, project: ProjectManifests, name: str
) -> RefreshResult:
    warehouse = project.warehouses[name]
    subscribers = subscribers_for(kargo, project.name, name)
    discovery = discover_warehouse(
        warehouse, subscribers, budget_seconds=kargo.discovery_budget_seconds
    )
    if discovery.failed:
        message = f"discovery failed: {'; '.join(discovery.errors)}; existing Freight is unchanged"
        return RefreshResult(project.name, name, discovery, None, message)
    freight = discovery.freight
    if freight is None:
        return RefreshResult(project.name, name, discovery, None, discovery.note)
    key = freight.partition_key
    if record_new_freight(instance, project.name, freight, links=project.freight_links):
        message = f"created Freight {key} (alias {freight.alias}, ID {freight.id})"
        return RefreshResult(project.name, name, discovery, key, message)
    message = f"no new Freight: the newest artifacts are Freight {key}, already recorded"
    return RefreshResult(project.name, name, discovery, None, message)


def kargo_resource_of(defs: dg.Definitions) -> KargoResource:
    """The ``kargo`` resource of a code location's definitions (the default one if unset).

    Raises:
        KargoDagsterError: ``kargo`` is set to something else than a ``KargoResource``.
    """
    kargo = (defs.resources or {}).get("kargo")
    if kargo is None:
        return KargoResource()
    if not isinstance(kargo, KargoResource):
        raise KargoDagsterError(
            f"the definitions' kargo resource is a {type(kargo).__name__}, not a KargoResource"
        )
    return kargo

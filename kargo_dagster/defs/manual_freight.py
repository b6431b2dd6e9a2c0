"""Freight made and named by hand: Kargo's "assemble Freight" and "change alias".

:func:`create_freight` records Freight assembled from the versions a discovery pass found
(:mod:`kargo_dagster.discovery.assembly`) exactly as a Warehouse sensor records what it
discovers, so it is promotable like any other. :func:`rename_freight` gives Freight a new
alias, unique within its Project as Kargo requires. ``kargo-dagster freight create`` and
``freight alias`` call them; so does each Warehouse's ``<project>__assemble__<warehouse>``
job, which the UI launches with the versions chosen in its config (each subscription's
newest when left empty).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.freight_aliases import alias_observation, check_alias
from kargo_dagster.defs.freight_lookup import recorded_freight
from kargo_dagster.defs.freight_store import record_freight, recorded_partition_key
from kargo_dagster.defs.names import TAG_ACTION, TAG_PROJECT, Action, assemble_job_name
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.run_tags import actor_of, shown_name
from kargo_dagster.defs.warehouse_sensors import subscribers_for
from kargo_dagster.discovery.assembly import VersionChoice, assemble_freight, subscription_key
from kargo_dagster.discovery.warehouse import WarehouseDiscovery, discover_warehouse
from kargo_dagster.errors import FreightAliasError, FreightError
from kargo_dagster.freight import Freight
from kargo_dagster.spec import ProjectManifests, RepoSubscription, Warehouse

__all__ = ["CreatedFreight", "build_assemble_job", "create_freight", "rename_freight"]


@dataclass(frozen=True)
class CreatedFreight:
    """Freight assembled by hand.

    Attributes:
        key: Its partition key.
        freight: Its artifacts.
        alias: Its alias.
        created: Whether it is new (False: the same artifacts were recorded before).
    """

    key: str
    freight: Freight
    alias: str
    created: bool


def create_freight(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    warehouse: Warehouse,
    discovery: WarehouseDiscovery,
    choices: Sequence[VersionChoice] = (),
    *,
    alias: str | None = None,
    actor: str | None = None,
) -> CreatedFreight:
    """Record the Freight of the chosen versions (each other subscription's newest).

    Freight with the same artifacts is the same Freight: if it was recorded before, nothing
    new is recorded, and ``alias``, when given, renames it.

    Args:
        instance: The Dagster instance.
        project: The Warehouse's Project.
        warehouse: The Warehouse.
        discovery: A discovery pass over the Warehouse.
        choices: The versions chosen, at most one per subscription.
        alias: The Freight's alias (default: the one derived from its ID).
        actor: Who asks, for the audit trail.

    Raises:
        FreightError: A choice that names no subscription or no discovered version, or a
            subscription that found nothing (see
            :func:`~kargo_dagster.discovery.assembly.assemble_freight`).
        FreightAliasError: ``alias`` is malformed or another Freight's.
    """
    freight = assemble_freight(warehouse, discovery, choices)
    if alias is not None:
        check_alias(alias)
    known = recorded_partition_key(instance, project.name, freight)
    if alias is not None:
        # Checked before anything is recorded, so a refused alias records no Freight either.
        _check_unique(instance, project, alias, known or freight.partition_key)
    key = known or record_freight(instance, project.name, freight, links=project.freight_links)
    shown = freight.alias
    if alias is not None:
        shown = rename_freight(instance, project, freight.origin.name, key, alias, actor=actor)
    return CreatedFreight(key, freight, shown, created=known is None)


def rename_freight(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    warehouse: str,
    key: str,
    alias: str,
    *,
    actor: str | None = None,
) -> str:
    """Give the Freight ``key`` of ``warehouse`` the alias ``alias``; returns it.

    Raises:
        FreightAliasError: ``alias`` is malformed, or it is the alias or partition key of
            another Freight of the Project (the message names that Freight).
    """
    check_alias(alias)
    before = _check_unique(instance, project, alias, key)
    if before != alias:
        instance.report_runless_asset_event(
            alias_observation(project.name, warehouse, key, alias, before=before, actor=actor)
        )
    return alias


def _check_unique(
    instance: dg.DagsterInstance, project: ProjectManifests, alias: str, key: str
) -> str:
    """Refuse ``alias`` if another Freight of the Project holds it; returns the current alias
    of ``key`` (``key`` itself when it is not among the Freight read)."""
    with storage_session(instance) as session:
        recorded = recorded_freight(session, project, list(project.warehouses))
    before = key
    for found in (found for every in recorded.values() for found in every):
        if found.key == key:
            before = found.alias
        elif alias in (found.alias, found.key):
            held = "alias" if alias == found.alias else "partition key"
            raise FreightAliasError(
                f"alias {alias} is the {held} of Freight {found.describe()} of Warehouse "
                f"{found.freight.origin.name}; aliases are unique within Project {project.name}"
            )
    return before


def build_assemble_job(project: ProjectManifests, warehouse: Warehouse) -> dg.JobDefinition:
    """The ``<project>__assemble__<warehouse>`` job: Freight assembled from the Dagster UI.

    Its config has one entry per subscription (its repository, or its name when two read
    the same one), empty for the newest version, and an optional alias. The run discovers
    the Warehouse's versions, records the Freight, and logs its key; a version that was not
    discovered fails the run, naming the closest ones found.
    """
    name = warehouse.metadata.name
    subscriptions = warehouse.spec.subscriptions
    keys = [_config_key(subscriptions, index) for index in range(len(subscriptions))]
    versions = {
        key: dg.Field(
            str,
            default_value="",
            description=(
                f"The {sub.kind} version for subscriptions[{index}] (empty: the newest discovered)"
            ),
        )
        for index, (key, sub) in enumerate(zip(keys, subscriptions, strict=True))
    }
    job_name = assemble_job_name(project.name, name)

    @dg.op(
        name=f"{job_name}_freight",
        description=f"Discover Warehouse {name}'s versions and record the chosen Freight.",
        config_schema={
            "versions": dg.Field(versions),
            "alias": dg.Field(str, default_value="", description="The Freight's alias"),
        },
    )
    def assemble(context: dg.OpExecutionContext, kargo: KargoResource) -> None:
        chosen = context.op_config["versions"]
        choices = [
            VersionChoice(sub.kind, key, chosen[key])
            for key, sub in zip(keys, subscriptions, strict=True)
            if chosen.get(key)
        ]
        discovery = discover_warehouse(
            warehouse,
            subscribers_for(kargo, project.name, name),
            budget_seconds=kargo.discovery_budget_seconds,
        )
        try:
            made = create_freight(
                context.instance,
                project,
                warehouse,
                discovery,
                choices,
                alias=context.op_config["alias"] or None,
                actor=shown_name(actor_of(context.run.tags)),
            )
        except FreightError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        verb = "Created" if made.created else "Found already recorded"
        context.log.info(f"{verb} Freight {made.key} (alias {made.alias}, ID {made.freight.id})")

    @dg.job(
        name=job_name,
        description=(
            f"Assemble Freight of Warehouse {name} by hand (Kargo's Freight assembly): choose "
            "a discovered version per subscription in the config, or leave it empty for the "
            "newest."
        ),
        tags={TAG_PROJECT: project.name, TAG_ACTION: Action.ASSEMBLE.value},
    )
    def assemble_job() -> None:
        assemble()

    return assemble_job


def _config_key(subscriptions: Sequence[RepoSubscription], index: int) -> str:
    # A subscription's repository names it, unless another subscription reads the same one.
    key = subscription_key(subscriptions[index])
    shared = sum(subscription_key(s) == key for s in subscriptions) > 1
    return (subscriptions[index].name or f"subscriptions[{index}]") if shared else key

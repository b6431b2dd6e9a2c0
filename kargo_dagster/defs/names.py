"""How Kargo names become Dagster names.

Asset keys, partition keys, partitions definition names and pool names accept the RFC 1123
names Kargo uses as they are. Group names (like sensor, job and op names) must match
``^[A-Za-z0-9_]+$``, so they take the Kargo name with ``-`` replaced by ``_``; the manifest
loader rejects the names that would then collide.
"""

from enum import StrEnum

import dagster as dg

from kargo_dagster.spec import ProjectManifests

# Run tags every promotion carries (DESIGN.md §1), so runs can be filtered by Stage and Freight.
TAG_PROJECT = "kargo/project"
TAG_STAGE = "kargo/stage"
TAG_FREIGHT = "kargo/freight"
TAG_ACTION = "kargo/action"
TAG_ACTOR = "kargo/actor"


class Action(StrEnum):
    """What a run tagged ``kargo/action`` does.

    Tags and metadata hold the member's ``value`` (Dagster stores only plain strings there);
    members compare equal to those strings.
    """

    PROMOTE = "promote"
    AUTO_PROMOTE = "auto-promote"
    ROLLBACK = "rollback"
    APPROVE = "approve"
    VERIFY = "verify"
    ASSEMBLE = "assemble"

    @property
    def promotes(self) -> bool:
        """Whether the run promotes Freight into a Stage (a deployment, in the metrics)."""
        return self in (Action.PROMOTE, Action.AUTO_PROMOTE, Action.ROLLBACK)

    @property
    def by_hand(self) -> bool:
        """Whether a person asked for the promotion (which puts auto-promotion on hold)."""
        return self in (Action.PROMOTE, Action.ROLLBACK)


# Set by a promotion that changed nothing: it gave way to a newer request for its Stage
# (superseded) or found its Freight not available to the Stage (refused). Such a run ends
# without materializing the Stage, so neither the Stage nor the Freight turns red; it is no
# failed attempt either: history and the delivery metrics report it by its outcome.
TAG_OUTCOME = "kargo/outcome"
OUTCOME_SUPERSEDED = "superseded"
OUTCOME_REFUSED = "refused"
# One line saying why a promotion run changed nothing or failed (Stage, Freight, step or
# check, reason): the run's page shows it at the top, and `history` prints it.
TAG_REASON = "kargo/reason"

# Tags Dagster sets on runs it launches by itself, which say who asked for a promotion.
TAG_SENSOR = "dagster/sensor_name"
TAG_BACKFILL = "dagster/backfill"
TAG_PARTITION = "dagster/partition"
# Where users sign in to the UI, the user who launched the run.
TAG_USER = "dagster/user"
# The run tags the state reads (the Kargo ones, and who launched a run without them).
RUN_TAG_KEYS = (
    TAG_PROJECT,
    TAG_STAGE,
    TAG_FREIGHT,
    TAG_ACTION,
    TAG_ACTOR,
    TAG_OUTCOME,
    TAG_REASON,
    TAG_SENSOR,
    TAG_BACKFILL,
    TAG_PARTITION,
    TAG_USER,
)

# The blocking checks on every Stage asset: Argo CD health, then the Stage's verification.
HEALTH_CHECK = "health"
VERIFIED_CHECK = "verified"

# Metadata keys written on Warehouse and Stage partitions and read back by the instance queries.
META_FREIGHT_ID = "kargo/freight_id"
META_FREIGHT_JSON = "kargo/freight"
META_APPROVED = "kargo/approved"
META_ACTOR = "kargo/actor"
# Auto-promotion holds: observations on the held Freight's Stage partition.
META_HOLD = "kargo/hold"
META_HOLD_REASON = "kargo/hold-reason"


def dagster_identifier(kargo_name: str) -> str:
    """A Kargo name as a Dagster group, job or sensor name.

    Examples:
        >>> dagster_identifier("kargo-simple")
        'kargo_simple'
    """
    return kargo_name.replace("-", "_")


def warehouse_key(project: str, warehouse: str) -> dg.AssetKey:
    """The asset key of a Warehouse: ``[project, "warehouse", name]``."""
    return dg.AssetKey([project, "warehouse", warehouse])


def stage_key(project: str, stage: str, origin: str | None = None) -> dg.AssetKey:
    """The asset key of a Stage, or of one origin of a Stage that requests several."""
    return dg.AssetKey([project, "stage", stage, *([origin] if origin else [])])


def stage_asset_key(project: ProjectManifests, stage: str, origin: str) -> dg.AssetKey:
    """The asset key of ``stage`` for ``origin``: a Stage asset has one key per origin only
    when it requests several."""
    requests = project.stages[stage].spec.requested_freight
    return stage_key(project.name, stage, origin if len(requests) > 1 else None)


def stage_job_name(key: dg.AssetKey, verb: str) -> str:
    """The name of the ``promote`` or ``approve`` job of the Stage asset ``key`` (a Stage
    has one per origin it requests).

    Examples:
        >>> stage_job_name(dg.AssetKey(["kargo-demo", "stage", "prod"]), "promote")
        'kargo_demo__promote__prod'
        >>> stage_job_name(dg.AssetKey(["shop", "stage", "edge", "app"]), "approve")
        'shop__approve__edge__app'
    """
    project, _, *stage = key.path
    return "__".join(dagster_identifier(part) for part in (project, verb, *stage))


def assemble_job_name(project: str, warehouse: str) -> str:
    """The name of the job that assembles Freight of a Warehouse by hand.

    Examples:
        >>> assemble_job_name("kargo-demo", "guestbook")
        'kargo_demo__assemble__guestbook'
    """
    return "__".join(dagster_identifier(part) for part in (project, "assemble", warehouse))


def auto_promotion_sensor_name(project: str) -> str:
    """The name of the Project's auto-promotion sensor."""
    return f"{dagster_identifier(project)}__auto_promotion"


def freight_partitions_name(project: str, warehouse: str) -> str:
    """The name of the dynamic partitions definition that holds a Warehouse's Freight."""
    return f"{project}/{warehouse}"

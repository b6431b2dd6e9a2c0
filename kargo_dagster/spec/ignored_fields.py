"""Fields Kargo acts on that kargo-dagster reads but does nothing with, reported as warnings.

A manifest that sets one still loads (the same manifests must run under Kargo), but nothing
it asks for happens here, so ``validate`` says so at the field's line rather than letting it
pass in silence.
"""

from collections.abc import Iterator

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.spec.catalog import Catalog
from kargo_dagster.spec.crosscheck import problem

__all__ = ["ignored_fields"]

_SHARD = (
    "has no effect in kargo-dagster: Kargo's controller shards have no counterpart; the "
    "Dagster daemon runs every Project's sensors"
)
_AUTO_ROLLBACK = (
    "has no effect in kargo-dagster (automatic rollback is a Kargo Enterprise feature): roll "
    "back with `kargo-dagster rollback` or a backfill of the older Freight"
)
_WEBHOOK_RECEIVERS = (
    "has no effect in kargo-dagster: it serves no webhooks, so Warehouses discover on their "
    "interval only"
)


def ignored_fields(catalog: Catalog) -> list[ManifestProblem]:
    """A warning for each field set in ``catalog`` that kargo-dagster does not act on."""
    return sorted(_ignored(catalog), key=lambda p: (p.file, p.line, p.field))


def _ignored(catalog: Catalog) -> Iterator[ManifestProblem]:
    for project in catalog.projects.values():
        for warehouse in project.warehouses.values():
            if warehouse.spec.shard:
                yield problem(warehouse, ("spec", "shard"), _SHARD)
        for stage in project.stages.values():
            if stage.spec.shard:
                yield problem(stage, ("spec", "shard"), _SHARD)
        config = project.config
        if config is None:
            continue
        for index, policy in enumerate(config.spec.promotion_policies):
            if policy.auto_rollback is not None:
                path = ("spec", "promotionPolicies", index, "autoRollback")
                yield problem(config, path, _AUTO_ROLLBACK)
        if config.spec.webhook_receivers:
            yield problem(config, ("spec", "webhookReceivers"), _WEBHOOK_RECEIVERS)

"""Fields Kargo acts on that kargo-dagster reads but does nothing with, reported as warnings.

A manifest that sets one still loads (the same manifests must run under Kargo), but nothing
it asks for happens here, so ``validate`` says so at the field's line rather than letting it
pass in silence.
"""

from collections.abc import Iterator

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.spec.catalog import Catalog
from kargo_dagster.spec.cluster_config import ClusterConfig
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
_PROMOTION_WINDOWS = (
    "has no effect in kargo-dagster (promotion windows are a Kargo Enterprise feature, not in "
    "v1.11): promotions run whenever they are started, by hand or by auto-promotion"
)
_GIT_CLIENT = (
    "has no effect in kargo-dagster: commits are made by the author git-clone's `author` names "
    "(Kargo's default, Kargo <no-reply@kargo.io>, otherwise)"
)
_SIGNING_KEY = (
    "has no effect in kargo-dagster: promotions sign commits only with the key git-clone's "
    "`author.signingKey` gives"
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
        if config.spec.promotion_windows:
            yield problem(config, ("spec", "promotionWindows"), _PROMOTION_WINDOWS)
    yield from _ignored_cluster_fields(catalog.cluster_config)


def _ignored_cluster_fields(config: ClusterConfig | None) -> Iterator[ManifestProblem]:
    if config is None:
        return
    client = config.spec.git_client
    if client is not None and (client.name or client.email):
        yield problem(config, ("spec", "gitClient"), _GIT_CLIENT)
    if client is not None and client.signing_key_secret is not None:
        yield problem(config, ("spec", "gitClient", "signingKeySecret"), _SIGNING_KEY)

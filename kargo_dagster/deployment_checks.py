"""What ``kargo-dagster doctor`` checks: deployment settings that cannot work, found up front.

A promotion relies on three things outside the manifests: one shared instance database (runs
in pods of their own cannot share SQLite files), a pool limit of 1 on every Stage's pool
``kargo/<project>/<stage>`` (without it two promotions into one Stage run at once), and the
Secrets the deployment reads its credentials from. Each is easy to get wrong and is otherwise
discovered only by a failed or doubled promotion. The checks read the instance's
``dagster.yaml`` and the values given to Dagster's Helm chart as plain data, so they run
before anything is installed.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Finding",
    "SecretReference",
    "check_helm_values",
    "check_instance",
    "check_secrets",
    "pool_name",
    "secrets_named",
]

# Run launchers that start runs away from the webserver's and daemon's machine.
_REMOTE_LAUNCHERS = {
    "K8sRunLauncher",
    "CeleryK8sRunLauncher",
    "EcsRunLauncher",
    "DockerRunLauncher",
}
_SHARED_STORAGE = ("postgres", "mysql")


@dataclass(frozen=True)
class Finding:
    """One result of a check.

    Attributes:
        level: ``error`` (promotions will fail or misbehave), ``warning`` (they work, with a
            risk the message names) or ``ok``.
        where: The file and key, or object, the finding is about.
        message: What is wrong and what to set instead.
    """

    level: Literal["error", "warning", "ok"]
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


@dataclass(frozen=True)
class SecretReference:
    """A Secret the deployment reads, and the values key that names it."""

    name: str
    key: str


def pool_name(project: str, stage: str) -> str:
    """The concurrency pool that queues a Stage's promotions one at a time.

    Named here, not in the Dagster layer, because ``doctor`` checks the limits of these pools
    in a deployment's configuration without importing Dagster.
    """
    return f"kargo/{project}/{stage}"


def check_instance(
    config: Mapping[str, Any],
    source: str,
    *,
    pools: Sequence[str],
    pool_limits: Mapping[str, int] | None = None,
) -> list[Finding]:
    """Check an instance's ``dagster.yaml`` (as parsed) for what promotions rely on.

    Args:
        config: The parsed ``dagster.yaml``.
        source: How findings name the file.
        pools: The Stages' pools (``kargo/<project>/<stage>``).
        pool_limits: Limits set on single pools in the instance itself (``dagster instance
            concurrency set``), when it could be read.
    """
    findings: list[Finding] = []
    launcher = _class_name(config.get("run_launcher"))
    storage = _storage_kind(config)
    remote = launcher in _REMOTE_LAUNCHERS
    if remote and storage not in _SHARED_STORAGE:
        findings.append(
            Finding(
                "error",
                f"{source}: storage",
                f"{storage} storage with the {launcher}: each run writes to a database on its "
                "own disk, so the UI, the sensors and the Stages' gates never see its "
                "promotion; use storage: postgres",
            )
        )
    else:
        findings.append(Finding("ok", f"{source}: storage", f"{storage} storage"))
    coordinator = _class_name(config.get("run_coordinator")) or "DefaultRunCoordinator"
    if remote and coordinator != "QueuedRunCoordinator":
        findings.append(
            Finding(
                "warning",
                f"{source}: run_coordinator",
                f"{coordinator}: runs start at once instead of queueing for their Stage's "
                "pool; use the QueuedRunCoordinator",
            )
        )
    monitoring = config.get("run_monitoring") or {}
    if remote and not (isinstance(monitoring, Mapping) and monitoring.get("enabled")):
        findings.append(
            Finding(
                "warning",
                f"{source}: run_monitoring",
                "run monitoring is off: a run whose pod dies stays STARTED and keeps its "
                "Stage's pool slot; set run_monitoring: {enabled: true}",
            )
        )
    findings.extend(_pool_findings(config, source, pools, pool_limits or {}))
    return findings


def _pool_findings(
    config: Mapping[str, Any], source: str, pools: Sequence[str], limits: Mapping[str, int]
) -> list[Finding]:
    concurrency = config.get("concurrency") or {}
    pool_config = concurrency.get("pools") if isinstance(concurrency, Mapping) else None
    default = pool_config.get("default_limit") if isinstance(pool_config, Mapping) else None
    where = f"{source}: concurrency.pools.default_limit"
    unlimited = [pool for pool in pools if limits.get(pool, default) is None]
    too_wide = [pool for pool in pools if (limits.get(pool, default) or 0) > 1]
    findings: list[Finding] = []
    if unlimited:
        findings.append(
            Finding(
                "error",
                where,
                f"{_pools(unlimited)} no limit, so two promotions into one Stage can run at "
                "once; set concurrency: {pools: {default_limit: 1}} (or `dagster instance "
                "concurrency set <pool> 1` for each)",
            )
        )
    if too_wide:
        findings.append(
            Finding(
                "error",
                where,
                f"{_pools(too_wide)} a limit above 1, so promotions into one Stage can "
                "overlap; Kargo promotes one at a time",
            )
        )
    if not findings:
        findings.append(Finding("ok", where, f"every Stage pool ({len(pools)}) is limited to 1"))
    return findings


def check_helm_values(values: Mapping[str, Any], source: str) -> list[Finding]:
    """Check values for Dagster's Helm chart for what promotions rely on.

    Args:
        values: The parsed values file.
        source: How findings name the file.
    """
    findings: list[Finding] = []
    launcher = _get(values, "runLauncher", "type") or "K8sRunLauncher"
    if launcher not in _REMOTE_LAUNCHERS:
        findings.append(
            Finding("warning", f"{source}: runLauncher.type", f"{launcher}: runs are not pods")
        )
    if _get(values, "postgresql", "enabled") is False:
        if not _get(values, "postgresql", "postgresqlHost"):
            findings.append(
                Finding(
                    "error",
                    f"{source}: postgresql.postgresqlHost",
                    "postgresql.enabled is false but no external host is given",
                )
            )
    else:
        findings.append(
            Finding(
                "warning",
                f"{source}: postgresql.enabled",
                "the chart's bundled PostgreSQL is for trying things out: its data goes with "
                "the release; give an external database (postgresql.enabled: false)",
            )
        )
    coordinator = _get(values, "dagsterDaemon", "runCoordinator")
    if not isinstance(coordinator, Mapping) or coordinator.get("enabled") is False:
        findings.append(
            Finding(
                "warning",
                f"{source}: dagsterDaemon.runCoordinator",
                "no run queue: runs start at once instead of queueing for their Stage's pool",
            )
        )
    if _get(values, "dagsterDaemon", "runMonitoring", "enabled") is False:
        findings.append(
            Finding(
                "warning",
                f"{source}: dagsterDaemon.runMonitoring.enabled",
                "run monitoring is off: a run whose pod dies stays STARTED and keeps its "
                "Stage's pool slot",
            )
        )
    limit = _get(values, "concurrency", "pools", "defaultLimit")
    enabled = _get(values, "concurrency", "enabled")
    where = f"{source}: concurrency.pools.defaultLimit"
    if not enabled or limit is None:
        findings.append(
            Finding(
                "error",
                where,
                "Stage pools get no limit, so two promotions into one Stage can run at once; "
                "set concurrency: {enabled: true, pools: {defaultLimit: 1}}",
            )
        )
    elif limit != 1:
        findings.append(
            Finding(
                "error",
                where,
                f"{limit}: promotions into one Stage can overlap; Kargo promotes one at a time",
            )
        )
    if not findings:
        findings.append(Finding("ok", source, "PostgreSQL, run queue, pools and monitoring set"))
    return findings


def secrets_named(values: Mapping[str, Any]) -> list[SecretReference]:
    """The Secrets the chart's pods read, by the values key naming each."""
    references: list[SecretReference] = []
    if _get(values, "generatePostgresqlPasswordSecret") is False:
        name = _get(values, "global", "postgresqlSecretName") or "dagster-postgresql-secret"
        references.append(SecretReference(str(name), "global.postgresqlSecretName"))
    deployments = _get(values, "dagster-user-deployments", "deployments") or []
    for index, deployment in enumerate(deployments if isinstance(deployments, list) else []):
        key = f"dagster-user-deployments.deployments.{index}.envSecrets"
        references += _env_secrets(deployment.get("envSecrets"), key)
    launcher_key = "runLauncher.config.k8sRunLauncher.envSecrets"
    references += _env_secrets(
        _get(values, "runLauncher", "config", "k8sRunLauncher", "envSecrets"), launcher_key
    )
    return references


def check_secrets(
    references: Iterable[SecretReference],
    namespace: str,
    exists: Callable[[str, str], bool],
    source: str,
) -> list[Finding]:
    """Check that every referenced Secret exists in ``namespace``.

    Args:
        references: From :func:`secrets_named`.
        namespace: The release's namespace.
        exists: Whether the Secret ``(namespace, name)`` exists.
        source: How findings name the values file.
    """
    findings: list[Finding] = []
    seen: set[str] = set()
    for reference in references:
        if reference.name in seen:
            continue
        seen.add(reference.name)
        if exists(namespace, reference.name):
            findings.append(Finding("ok", f"Secret {namespace}/{reference.name}", "exists"))
        else:
            findings.append(
                Finding(
                    "error",
                    f"{source}: {reference.key}",
                    f"Secret {reference.name} does not exist in namespace {namespace}: "
                    "pods that read it will not start",
                )
            )
    return findings


def _env_secrets(entries: Any, key: str) -> list[SecretReference]:
    if not isinstance(entries, list):
        return []
    return [
        SecretReference(str(entry["name"]), f"{key}.{index}.name")
        for index, entry in enumerate(entries)
        if isinstance(entry, Mapping) and entry.get("name")
    ]


def _get(values: Mapping[str, Any], *path: str) -> Any:
    current: Any = values
    for part in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _class_name(section: Any) -> str | None:
    if not isinstance(section, Mapping):
        return None
    name = section.get("class")
    return str(name) if name else None


def _storage_kind(config: Mapping[str, Any]) -> str:
    storage = config.get("storage")
    if isinstance(storage, Mapping):
        for kind in _SHARED_STORAGE:
            if kind in storage:
                return kind
    run_storage = config.get("run_storage")
    module = run_storage.get("module", "") if isinstance(run_storage, Mapping) else ""
    for kind in _SHARED_STORAGE:
        if kind in str(module):
            return kind
    return "SQLite"


def _pools(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"Stage pool {names[0]} has"
    return f"{len(names)} Stage pools ({names[0]}, …) have"

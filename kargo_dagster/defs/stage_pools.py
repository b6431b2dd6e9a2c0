"""The Stages' concurrency pools get their limits before the first promotion claims one."""

import dagster as dg

from kargo_dagster.defs.dagster_internals import default_pool_limit, initialize_pools
from kargo_dagster.deployment_checks import pool_name
from kargo_dagster.spec import ProjectManifests

# Pools this process has seen with their limit, per instance and default limit: after the
# first tick the sensors ask the instance nothing. Losing it costs one query, never a pool.
_ready: set[tuple[str, int | None, str]] = set()


def ensure_stage_pools(instance: dg.DagsterInstance, project: ProjectManifests) -> list[str]:
    """Give the Project's Stage pools that lack a limit the default one; return those."""
    default = default_pool_limit(instance)
    where = instance.root_directory
    pools = [pool_name(project.name, stage) for stage in project.stages]
    wanted = [pool for pool in pools if (where, default, pool) not in _ready]
    if not wanted:
        return []
    written = initialize_pools(instance, wanted)
    _ready.update((where, default, pool) for pool in wanted)
    return written

"""Checks a ProjectConfig's ``freightLinks`` and ``stageLinks`` templates and conditions."""

from collections.abc import Iterator

from kargo_dagster.deep_links import link_problems
from kargo_dagster.errors import ManifestProblem
from kargo_dagster.spec.cluster_config import ClusterConfig
from kargo_dagster.spec.crosscheck import problem
from kargo_dagster.spec.project import ProjectConfig

__all__ = ["check_links"]


def check_links(config: ProjectConfig | ClusterConfig | None) -> Iterator[ManifestProblem]:
    """A problem for each link whose URL template or ``if`` would not evaluate."""
    if config is None:
        return
    for field, links in (
        ("freightLinks", config.spec.freight_links),
        ("stageLinks", config.spec.stage_links),
    ):
        for index, link in enumerate(links):
            for part, message in link_problems(link):
                yield problem(config, ("spec", field, index, part), message)

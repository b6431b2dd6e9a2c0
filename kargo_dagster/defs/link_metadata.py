"""Deep links (a ProjectConfig's ``stageLinks`` and ``freightLinks``) as asset metadata.

Kargo shows them on a Stage's and a Freight's pages; here a Stage's links are part of its
asset's definition and a Freight's links part of its Warehouse partition's materialization,
each a clickable URL named ``link: <title>``. A link that does not resolve is shown as its
error, so a broken link is seen rather than missing.
"""

from collections.abc import Sequence

import dagster as dg

from kargo_dagster.deep_links import (
    ResolvedLink,
    freight_resource,
    resolve_links,
    stage_resource,
)
from kargo_dagster.freight import Freight
from kargo_dagster.spec import ProjectManifests, Stage
from kargo_dagster.spec.project import Link

__all__ = [
    "LINK_ERRORS",
    "LINK_PREFIX",
    "freight_link_metadata",
    "stage_link_metadata",
]

LINK_PREFIX = "link: "
LINK_ERRORS = "kargo/link_errors"


def stage_link_metadata(project: ProjectManifests, stage: Stage) -> dict[str, dg.MetadataValue]:
    """The Stage's links, resolved against its manifest."""
    return _metadata(*resolve_links(project.stage_links, "stage", stage_resource(stage)))


def freight_link_metadata(
    links: Sequence[Link], project: str, freight: Freight
) -> dict[str, dg.MetadataValue]:
    """The Freight's links, resolved against it as Kargo's API shows it."""
    if not links:
        return {}
    return _metadata(*resolve_links(links, "freight", freight_resource(freight, project)))


def _metadata(resolved: list[ResolvedLink], errors: list[str]) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {
        f"{LINK_PREFIX}{link.title}": dg.MetadataValue.url(link.url) for link in resolved
    }
    if errors:
        metadata[LINK_ERRORS] = dg.MetadataValue.text("\n".join(errors))
    return metadata

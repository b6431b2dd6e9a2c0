"""Discovery results as text for a person (``kargo-dagster discover``)."""

from collections.abc import Sequence

from kargo_dagster.discovery.artifacts import DiscoveredChart, DiscoveredCommit, DiscoveredImage
from kargo_dagster.discovery.warehouse import Discovered, WarehouseDiscovery

# Enough versions to see the order without flooding the terminal; --json shows them all.
SHOWN_VERSIONS = 10


def describe(artifact: Discovered) -> str:
    """One line for one version: the version, then what pins it."""
    if isinstance(artifact, DiscoveredImage):
        return f"{artifact.tag or '-'}  {artifact.digest}"
    if isinstance(artifact, DiscoveredCommit):
        ref = f"tag {artifact.tag}" if artifact.tag else f"branch {artifact.branch or '-'}"
        return f"{artifact.id[:12]}  {ref}  {artifact.subject}".rstrip()
    assert isinstance(artifact, DiscoveredChart)
    return f"{artifact.version}  {artifact.name}".rstrip()


def render_discoveries(project: str, results: Sequence[WarehouseDiscovery]) -> str:
    """What each subscription found, best first, and the Freight each Warehouse would create."""
    lines: list[str] = []
    for result in results:
        lines.append(f"Warehouse {project}/{result.warehouse}")
        for outcome in result.outcomes:
            lines.append(f"  {outcome.label}:")
            if outcome.error:
                lines.append(f"    error: {outcome.error}")
                continue
            if not outcome.found:
                lines.append("    found nothing")
            lines.extend(f"    {describe(a)}" for a in outcome.found[:SHOWN_VERSIONS])
            if len(outcome.found) > SHOWN_VERSIONS:
                lines.append(f"    … {len(outcome.found) - SHOWN_VERSIONS} more (see --json)")
        if result.freight is not None:
            lines.append(f"  Freight: {result.freight.partition_key} (ID {result.freight.id})")
        else:
            lines.append(f"  {result.note}")
        # Subscription errors were shown under their subscription; the rest belong here.
        labels = tuple(o.label for o in result.outcomes)
        lines.extend(f"  error: {e}" for e in result.errors if not e.startswith(labels))
        lines.append("")
    return "\n".join(lines)

"""Discovering the versions of a Helm chart subscription, as Kargo's chart selectors do.

* ``http(s)://`` repositories: the versions ``index.yaml`` lists for the chart, parsed
  loosely (``1.2`` and ``v1.2.3`` count).
* ``oci://`` repositories: the repository's tags, each with ``_`` read as ``+`` (Helm's
  spelling of build metadata in tags) and parsed strictly: exact ``MAJOR.MINOR.PATCH``, no
  leading ``v``.

Versions outside ``semverConstraint`` are dropped; the rest are sorted from the highest
precedence down (equal precedence: reverse order of the text) and capped at
``discoveryLimit``. Each is recorded as written (for OCI, with ``+`` for ``_``) with the
subscription's ``repoURL`` and ``name``; OCI subscriptions have no name, and Kargo records
none.
"""

from collections.abc import Callable

from kargo_dagster.clients.helm_repo import HelmRepoClient
from kargo_dagster.discovery.artifacts import DiscoveredChart
from kargo_dagster.errors import DiscoveryError
from kargo_dagster.redaction import redact_text
from kargo_dagster.semver import (
    Constraint,
    Version,
    parse_constraint,
    parse_semver,
    parse_strict_semver,
)
from kargo_dagster.spec import ChartSubscription

OCI_SCHEME = "oci://"


def discover_charts(
    subscription: ChartSubscription,
    *,
    helm: HelmRepoClient,
    oci_tags: Callable[[str], list[str]],
) -> list[DiscoveredChart]:
    """The subscription's chart versions, best first.

    Args:
        subscription: The chart subscription.
        helm: Reads HTTP(S) chart repositories.
        oci_tags: Lists the tags of an OCI repository, given its URL without ``oci://``
            (``ghcr.io/acme/charts/app``).

    Raises:
        DiscoveryError: The constraint is invalid, the repository URL has an unknown scheme,
            or the index does not list the chart.
        RepositoryError: The repository could not be read.
    """
    repo_url = subscription.repo_url
    constraint = _constraint(subscription)
    if repo_url.startswith(("http://", "https://")):
        texts = helm.chart_versions(
            repo_url,
            subscription.name or "",
            insecure_skip_tls_verify=subscription.insecure_skip_tls_verify,
        )
        versions = [v for v in (parse_semver(t, strict=False) for t in texts) if v]
    elif repo_url.startswith(OCI_SCHEME):
        tags = oci_tags(repo_url.removeprefix(OCI_SCHEME))
        versions = [v for v in (parse_strict_semver(t.replace("_", "+")) for t in tags) if v]
    else:
        raise DiscoveryError(
            f"chart repository URL {redact_text(repo_url)!r} is invalid: it must start with "
            "http://, https:// or oci://"
        )
    return [
        DiscoveredChart(repo_url=repo_url, name=subscription.name or "", version=v.original)
        for v in select_versions(versions, constraint, subscription.discovery_limit)
    ]


def select_versions(
    versions: list[Version], constraint: Constraint | None, limit: int
) -> list[Version]:
    """``versions`` within ``constraint``, highest first, at most ``limit`` (0: all)."""
    kept = [v for v in versions if constraint is None or constraint.check(v)]
    kept.sort(reverse=True)
    return kept[:limit] if limit > 0 else kept


def _constraint(subscription: ChartSubscription) -> Constraint | None:
    if not subscription.semver_constraint:
        return None
    try:
        return parse_constraint(subscription.semver_constraint)
    except DiscoveryError as exc:
        raise DiscoveryError(
            f"chart subscription {redact_text(subscription.repo_url)!r}: {exc}"
        ) from None

"""A Warehouse's ``freightCreationCriteria``: whether the newest artifacts make Freight.

Kargo evaluates ``spec.freightCreationCriteria.expression`` (plain expr-lang, no
``${{ }}``) before it creates Freight automatically, with four functions over what
discovery found, each answering with the newest version of its subscription:

- ``imageFrom(repoURL)``: ``.Tag``, ``.Digest``, ``.Annotations``, ``.CreatedAt``;
- ``commitFrom(repoURL)``: ``.ID``, ``.Branch``, ``.Tag``, ``.Subject``, ``.Author``,
  ``.Committer``, ``.CreatorDate``;
- ``chartFrom(repoURL[, name])``: ``.RepoURL``, ``.Name``, ``.Version``;
- ``artifactFrom(subscriptionName)``: generic subscriptions, which kargo-dagster does
  not discover (an error).

Repository URLs are compared normalised, as Kargo does; a repository no subscription
watches gives ``nil``. expr's builtins (``date()``, ``hasPrefix()``...) are available, Kargo's
other functions are not. The Freight is created when the result is true, or a value whose
text Go's ``strconv.ParseBool`` reads as true; any other result is an error.
"""

from collections.abc import Sequence
from typing import Any

from kargo_dagster.discovery.artifacts import DiscoveredChart, DiscoveredCommit, DiscoveredImage
from kargo_dagster.errors import DiscoveryError, ExpressionError
from kargo_dagster.expressions import evaluate
from kargo_dagster.expressions.functions import string_argument
from kargo_dagster.expressions.gojson import go_sprint
from kargo_dagster.expressions.objects import ChartRef, DiscoveredCommitRef, DiscoveredImageRef
from kargo_dagster.expressions.templates import as_go_bool
from kargo_dagster.urls import normalize_chart_repo_url, normalize_git_url, normalize_image_repo_url

__all__ = ["criteria_satisfied"]

Discovered = DiscoveredImage | DiscoveredCommit | DiscoveredChart


def criteria_satisfied(expression: str, newest: Sequence[Discovered]) -> bool:
    """Whether ``expression`` holds for ``newest``, the top version of each subscription.

    Raises:
        DiscoveryError: The expression does not parse, fails, or gives no bool; the message
            starts with the field, ``spec.freightCreationCriteria.expression``.
    """
    functions = {
        "imageFrom": lambda *args: _image_from(newest, *args),
        "commitFrom": lambda *args: _commit_from(newest, *args),
        "chartFrom": lambda *args: _chart_from(newest, *args),
        "artifactFrom": _artifact_from,
    }
    try:
        result = evaluate(expression.strip(), functions)
    except ExpressionError as error:
        raise DiscoveryError(f"spec.freightCreationCriteria.expression: {error}") from None
    verdict = as_go_bool(result)
    if verdict is None:
        raise DiscoveryError(
            "spec.freightCreationCriteria.expression: it gave "
            f"{go_sprint(result)!r}, which is not a bool"
        )
    return verdict


def _url(args: tuple[Any, ...], function: str, most: int = 1) -> str:
    if not 1 <= len(args) <= most:
        expected = "1 argument" if most == 1 else f"1-{most} arguments"
        raise ExpressionError(f"{function}: expected {expected}, got {len(args)}")
    return string_argument(args[0], "first", function)


def _image_from(newest: Sequence[Discovered], *args: Any) -> DiscoveredImageRef | None:
    url = normalize_image_repo_url(_url(args, "imageFrom"))
    for found in newest:
        if isinstance(found, DiscoveredImage) and normalize_image_repo_url(found.repo_url) == url:
            annotations = dict(found.annotations)
            return DiscoveredImageRef(found.tag, found.digest, annotations, found.created_at)
    return None


def _commit_from(newest: Sequence[Discovered], *args: Any) -> DiscoveredCommitRef | None:
    url = normalize_git_url(_url(args, "commitFrom"))
    for c in newest:
        if isinstance(c, DiscoveredCommit) and normalize_git_url(c.repo_url) == url:
            fields = (c.branch, c.tag, c.subject, c.author, c.committer, c.creator_date)
            return DiscoveredCommitRef(c.id, *fields)
    return None


def _chart_from(newest: Sequence[Discovered], *args: Any) -> ChartRef | None:
    url = normalize_chart_repo_url(_url(args, "chartFrom", most=2))
    name = string_argument(args[1], "second", "chartFrom") if len(args) == 2 else ""
    for chart in newest:
        if not isinstance(chart, DiscoveredChart):
            continue
        if normalize_chart_repo_url(chart.repo_url) == url and name in ("", chart.name):
            # Kargo answers with the normalised URL it looked for.
            return ChartRef(url, chart.name, chart.version)
    return None


def _artifact_from(*args: Any) -> Any:
    raise ExpressionError("artifactFrom: generic subscriptions are not discovered by kargo-dagster")

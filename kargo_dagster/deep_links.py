"""A ProjectConfig's ``freightLinks`` and ``stageLinks``, resolved as Kargo resolves them.

Each link's ``url`` is a Go ``text/template`` and its optional ``if`` an expr-lang condition,
both evaluated against ``{"freight": <the Freight resource>}`` or ``{"stage": <the Stage
resource>}``. A link whose condition is false is left out; one that fails to evaluate is
left out too and its error kept, so one broken link never hides the others (Kargo's API
returns both lists the same way).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.go_text_template import parse_go_template, render_go_template
from kargo_dagster.expressions.parser import parse
from kargo_dagster.expressions.templates import evaluate
from kargo_dagster.freight import Freight
from kargo_dagster.spec.project import Link
from kargo_dagster.spec.stage import Stage

__all__ = [
    "ResolvedLink",
    "freight_resource",
    "link_problems",
    "resolve_links",
    "stage_resource",
]

LinkSubject = Literal["freight", "stage"]


@dataclass(frozen=True)
class ResolvedLink:
    """A link to show: its title, the rendered URL and the description."""

    title: str
    url: str
    description: str = ""


def resolve_links(
    links: Sequence[Link], subject: LinkSubject, resource: Mapping[str, Any]
) -> tuple[list[ResolvedLink], list[str]]:
    """The links to show for ``resource``, and an error for each that could not be resolved."""
    data = {subject: resource}
    resolved: list[ResolvedLink] = []
    errors: list[str] = []
    for link in links:
        try:
            if link.if_ and not _condition(link.if_, data):
                continue
            url = render_go_template(link.url, data)
        except ExpressionError as error:
            errors.append(f"link {link.title!r}: {error}")
            continue
        resolved.append(ResolvedLink(link.title, url, link.description))
    return resolved, errors


def link_problems(link: Link) -> list[tuple[str, str]]:
    """What is wrong in ``link`` before anything is rendered: ``(field, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    try:
        parse_go_template(link.url)
    except ExpressionError as error:
        problems.append(("url", str(error)))
    if link.if_:
        try:
            parse(link.if_)
        except ExpressionError as error:
            problems.append(("if", str(error)))
    return problems


def _condition(expression: str, data: Mapping[str, Any]) -> bool:
    value = evaluate(expression, data)
    if not isinstance(value, bool):
        raise ExpressionError("the condition is not true or false", expression=expression)
    return value


def freight_resource(freight: Freight, project: str, alias: str | None = None) -> dict[str, Any]:
    """The Freight as Kargo's API returns it, which is what freight links read."""
    shown_alias = alias or freight.alias
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Freight",
        "metadata": {
            "name": freight.id,
            "namespace": project,
            "labels": {"kargo.akuity.io/alias": shown_alias},
        },
        "alias": shown_alias,
        **freight.to_json(),
    }


def stage_resource(stage: Stage) -> dict[str, Any]:
    """The Stage as written in its manifest (Kargo's API adds the status, which links
    rarely read and which kargo-dagster keeps in Dagster instead)."""
    return stage.model_dump(mode="json", by_alias=True, exclude_none=True)

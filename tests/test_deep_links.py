"""Deep links resolve as Kargo resolves them: template, condition, and errors kept apart."""

from kargo_dagster.deep_links import (
    ResolvedLink,
    freight_resource,
    link_problems,
    resolve_links,
)
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.spec.project import Link

FREIGHT = Freight(
    origin=FreightOrigin(name="app"),
    images=(Image(repo_url="ghcr.io/acme/app", tag="v1.2.0", digest="sha256:" + "a" * 64),),
)


def _link(title: str, url: str, condition: str | None = None) -> Link:
    return Link.model_validate({"title": title, "url": url, "if": condition})


def test_freight_links_read_the_freight_resource() -> None:
    links = [
        _link("Release", "https://ghcr.io/acme/app/releases/{{ (index .freight.images 0).tag }}"),
        _link("Notes", '{{ printf "https://notes/%s" .freight.alias }}'),
        _link("Only for charts", "https://charts", "len(freight.charts ?? []) > 0"),
        _link("Named", "https://k/{{ .freight.metadata.namespace }}/{{ .freight.metadata.name }}"),
    ]
    resolved, errors = resolve_links(
        links, "freight", freight_resource(FREIGHT, "shop", "swift-fox")
    )
    assert resolved == [
        ResolvedLink("Release", "https://ghcr.io/acme/app/releases/v1.2.0"),
        ResolvedLink("Notes", "https://notes/swift-fox"),
        ResolvedLink("Named", f"https://k/shop/{FREIGHT.id}"),
    ]
    assert errors == []


def test_a_link_that_fails_is_reported_and_the_others_still_show() -> None:
    links = [
        _link("Broken", "https://x/{{ .freight.metadata.name.first }}"),
        _link("Fine", "https://x/{{ .freight.origin.name }}"),
    ]
    resolved, errors = resolve_links(links, "freight", freight_resource(FREIGHT, "shop"))
    assert resolved == [ResolvedLink("Fine", "https://x/app")]
    assert len(errors) == 1 and errors[0].startswith("link 'Broken': nothing to read .first")


def test_a_condition_that_is_not_a_boolean_is_an_error() -> None:
    resolved, errors = resolve_links(
        [_link("Odd", "https://x", "freight.alias")],
        "freight",
        freight_resource(FREIGHT, "shop"),
    )
    assert resolved == []
    assert errors == [
        "link 'Odd': the condition is not true or false in expression 'freight.alias'"
    ]


def test_problems_are_found_before_rendering() -> None:
    assert link_problems(_link("Fine", "https://x/{{ .stage.metadata.name }}", "true")) == []
    found = link_problems(_link("Bad", "https://x/{{ if .stage }}", "stage.metadata.name ==="))
    assert [field for field, _ in found] == ["url", "if"]

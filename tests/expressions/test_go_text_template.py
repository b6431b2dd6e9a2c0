"""Go text/template as deep links use it: what renders, and what is refused when parsed."""

import pytest

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.go_text_template import parse_go_template, render_go_template

DATA = {
    "stage": {
        "metadata": {"name": "Prod-EU", "namespace": "shop", "labels": {"team": "payments"}},
        "spec": {"replicas": 3.0, "tags": ["a", "b"]},
    }
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("https://x/{{ .stage.metadata.name }}", "https://x/Prod-EU"),
        ("https://x/{{.stage.metadata.name | lower}}", "https://x/prod-eu"),
        ('{{ index .stage.metadata.labels "team" }}', "payments"),
        ('{{ printf "%s/%s" .stage.metadata.namespace .stage.metadata.name }}', "shop/Prod-EU"),
        ("{{ .stage.spec.replicas }}", "3"),
        ("{{ .stage.spec.tags }}", "[a b]"),
        ("{{ .stage.metadata.missing }}", "<no value>"),
        ('{{ .stage.metadata.missing | default "none" }}', "none"),
        ('{{ .stage.metadata.name | trimPrefix "Prod-" | upper }}', "EU"),
        ('{{ replace "-" "_" .stage.metadata.name }}', "Prod_EU"),
        ('{{ urlquery .stage.metadata.name "a b" }}', "Prod-EUa+b"),
        ("a {{- /* a comment */ -}} b", "ab"),
        ("x  {{- .stage.metadata.namespace -}}  y", "xshopy"),
        ("no actions at all", "no actions at all"),
        ("{{ 3 }}-{{ `raw` }}", "3-raw"),
        ("{{ (index .stage.spec.tags 1) | upper }}", "B"),
        ('{{ (index .stage.metadata "labels").team }}', "payments"),
    ],
)
def test_renders_as_go_does(template: str, expected: str) -> None:
    assert render_go_template(template, DATA) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ if .stage }}x{{ end }}", "'if' is not supported"),
        ("{{ range .stage.spec.tags }}x{{ end }}", "'range' is not supported"),
        ("{{ $x := 1 }}", "variables are not supported"),
        ("{{ lower (.stage.metadata.name }}", "unclosed parenthesis"),
        ("{{ lower ) }}", "unexpected"),
        ('{{ env "HOME" }}', "function 'env' is not supported"),
        ("{{ .stage.metadata.name", "unclosed action"),
        ("{{ }}", "empty action"),
        ("{{ .a .b }}", "is not a function"),
    ],
)
def test_refuses_what_it_does_not_render(template: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse_go_template(template)


def test_reading_a_field_of_nothing_fails_naming_it() -> None:
    with pytest.raises(ExpressionError, match=r"nothing to read .name from: .stage.metadata"):
        render_go_template("{{ .stage.metadata.name.name }}", DATA)

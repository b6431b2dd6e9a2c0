"""Templates: ${{ }} rendering and Kargo's coercion of the result (json_templates.go)."""

from typing import Any

import pytest

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import evaluate_template, has_expression

VARIABLES: dict[str, Any] = {
    "aString": "hello",
    "anInt": 42,
    "aFloat": 1.5,
    "aBool": True,
    "aMap": {"b": 1, "a": "<x>"},
    "aList": ["a", 1],
    "multiline": "line\n",
    "ctx": {"project": "guestbook", "stage": "test"},
    "vars": {"openpr": "true", "count": "3"},
}

COERCION = [
    # no delimiter: untouched, even when it looks like a number
    ("42", "42"),
    ("true", "true"),
    ("plain text", "plain text"),
    # single expressions
    ("${{ 1 + 1 }}", 2),
    ("${{ 10 / 4 }}", 2.5),
    ("${{ 7 / 7 }}", 1),
    ("${{ aString }}", "hello"),
    ("${{ anInt }}", 42),
    ("${{ aFloat }}", 1.5),
    ("${{ aBool }}", True),
    ("${{ 'true' }}", True),
    ("${{ 'false' }}", False),
    ("${{ 'T' }}", True),
    ("${{ '1' }}", 1),
    ("${{ '0' }}", 0),
    ("${{ '1e3' }}", 1000),
    ("${{ '1.50' }}", 1.5),
    ("${{ '0x10' }}", "0x10"),  # Go wants a p exponent in hex floats
    ("${{ '0x1p-2' }}", 0.25),
    ("${{ '1_000' }}", 1000),
    ("${{ '1__0' }}", "1__0"),
    ("${{ 'yes' }}", "yes"),
    ("${{ nil }}", None),
    ("${{ 'null' }}", None),
    ("${{ aMap }}", {"a": "<x>", "b": 1}),
    ("${{ aList }}", ["a", 1]),
    ("${{ {'foo': 'bar'} }}", {"foo": "bar"}),
    ("${{ '[1, 2]' }}", [1, 2]),
    ("${{ '{\"a\": 1}' }}", {"a": 1}),
    ("${{ '1e400' }}", "1e400"),
    # quote() keeps strings
    ("${{ quote(true) }}", "true"),
    ("${{ quote(42) }}", "42"),
    ("${{ quote(nil) }}", "null"),
    ("${{ quote('foo') }}", "foo"),
    ("${{ quote({'foo': 'bar'}) }}", '{"foo":"bar"}'),
    ("${{ quote('a\"b') }}", 'a\\"b'),
    ("${{ unsafeQuote('foo') }}", '"foo"'),
    ("${{ quote(anInt) }}", "42"),
    # mixed text: rendered, then coerced as a whole
    ("v${{ 1 }}", "v1"),
    ("${{ aString }}, world!", "hello, world!"),
    ("${{ aString }}, ${{ anInt }}!", "hello, 42!"),
    ("${{ 1 }}${{ 2 }}", 12),
    ("${{ 'tr' }}${{ 'ue' }}", True),
    ("map: ${{ aMap }}", 'map: {"a":"\\u003cx\\u003e","b":1}'),
    ("${{ ctx.project }}-${{ ctx.stage }}", "guestbook-test"),
    ("foo ${{ aString }} and ${% 'bar' %}", "foo hello and bar"),
    ("${% '{{.domain}}' %}", "{{.domain}}"),
    # a trailing newline (YAML's "|") is ignored for coercion and kept on strings
    ("${{ 42 }}\n", 42),
    ("${{ quote(42) }}\n", "42\n"),
    ("${{ {'foo': 'bar'} }}\n", {"foo": "bar"}),
    ("${{ quote({'foo': 'bar'}) }}\n", '{"foo":"bar"}\n'),
    ("${{ multiline }}", "line\n"),
    # asJSON / asYAML are always available
    ("${{ asJSON({'foo': 'bar', 'count': 2}) }}", '{\n  "count": 2,\n  "foo": "bar"\n}\n'),
    ("${{ asYAML({'foo': 'bar', 'count': 2}) }}", "count: 2\nfoo: bar\n"),
    ("${{ asYAML(['one', 'two']) }}", "- one\n- two\n"),
    # real manifest expressions
    ("${{ vars.openpr != 'true' }}", False),
    ("${{ vars.count }}", 3),
]


@pytest.mark.parametrize(("template", "expected"), COERCION)
def test_coercion(template: str, expected: Any) -> None:
    result = evaluate_template(template, VARIABLES)
    assert result == expected
    assert type(result) is type(expected)


def test_walks_maps_and_lists_but_not_keys_or_other_values() -> None:
    config = {
        "${{ aString }}": "${{ anInt }}",
        "nested": {"list": ["${{ aBool }}", 7, None, {"deep": "x-${{ anInt }}"}]},
        "number": 1.5,
    }
    assert evaluate_template(config, VARIABLES) == {
        "${{ aString }}": 42,
        "nested": {"list": [True, 7, None, {"deep": "x-42"}]},
        "number": 1.5,
    }
    assert config["nested"]["list"][0] == "${{ aBool }}"  # the input is not changed


@pytest.mark.parametrize(
    ("template", "message", "position"),
    [
        ("${{ aString ", "unclosed expression: expected '}}'", 0),
        ("x ${% 1", "unclosed expression: expected '%}'", 2),
        ("${{ '{{.domain}}' }}", "literal not terminated", 1),
        ("${{ 1 + }}", "unexpected token EOF", 4),  # within the expression " 1 + "
    ],
)
def test_template_errors(template: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_template(template, VARIABLES)
    assert message in caught.value.message
    assert caught.value.position == position


def test_values_json_cannot_hold_are_errors() -> None:
    with pytest.raises(ExpressionError, match="unsupported value"):
        evaluate_template("${{ 1 / 0 }}", VARIABLES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("${{ x }}", True), ("a ${% x %}", True), ("$ {{ x }}", False), ("{{ x }}", False)],
)
def test_has_expression(text: str, expected: bool) -> None:
    assert has_expression(text) is expected

"""The expr-lang interpreter: operators, precedence, members, built-ins and errors.

Expected values were checked against expr v1.17.8 (the version Kargo uses).
"""

import math
from typing import Any

import pytest

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import evaluate

VARIABLES: dict[str, Any] = {
    "vars": {
        "s": "abc",
        "n": 3,
        "f": 1.5,
        "l": [1, 2, 3],
        "m": {"a": 1, "b": {"c": "x"}},
        "nil": None,
        "t": "true",
    },
    "outputs": {"update-image": {"commitMessage": "bump"}},
}

VALUES = [
    # literals
    ("1", 1),
    ("1.0", 1.0),
    (".5", 0.5),
    ("1e3", 1000.0),
    ("0x1F", 31),
    ("0o17", 15),
    ("0b101", 5),
    ("1_000", 1000),
    ("'single'", "single"),
    ('"dq"', "dq"),
    ('"a\\tb\\u00e9\\x41\\101"', "a\tbéAA"),
    ("`raw\\n`", "raw\\n"),
    ("`a``b`", "a`b"),
    ("true", True),
    ("false", False),
    ("nil", None),
    ("[1, 'a', [true]]", [1, "a", [True]]),
    ("[1, 2, ][1]", 2),
    ("{a: 1, 'b': 2, 3: 4, ('c' + 'd'): 5}", {"a": 1, "b": 2, "3": 4, "cd": 5}),
    # arithmetic
    ("1 + 1", 2),
    ("10 / 4", 2.5),
    ("7 / 7", 1.0),
    ("7 % 2", 1),
    ("-7 % 3", -1),
    ("2 ** 3", 8.0),
    ("2 ^ 3", 8.0),
    ("2 ** 3 ** 2", 512.0),
    ("-2 ** 2", -4.0),
    ("1 + 2 * 3 - 4 / 2", 5.0),
    ("(1 + 2) * 3", 9),
    ("1 + 1.5", 2.5),
    ("vars.f * 2", 3.0),
    ("-vars.n", -3),
    ("+vars.n", 3),
    ("'a' + 'b' + 'c'", "abc"),
    ("vars.s + 'x'", "abcx"),
    ("1 .. 3", [1, 2, 3]),
    # comparison and logic
    ("1 == 1.0", True),
    ("vars.n == '3'", False),
    ("nil == nil", True),
    ("vars.s == nil", False),
    ("vars.l == [1, 2, 3]", True),
    ("vars.l != [1, 2]", True),
    ("true == 1", False),
    ("'a' < 'b'", True),
    ("vars.n > 2.5", True),
    ("1 < 2 < 3", True),
    ("3 > 2 > 2", False),
    ("1 <= 1 >= 0", True),
    ("true && false || true", True),
    ("true and not false", True),
    ("false or true", True),
    ("!true", False),
    ("not false", True),
    ("false && vars.nil.x", False),
    ("true || vars.nil.x", True),
    ("vars.t == 'true'", True),
    ("vars.t != 'true'", False),
    # membership and string operators
    ("1 in [1, 2]", True),
    ("'a' not in ['b']", True),
    ("'a' in vars.m", True),
    ("'z' in vars.m", False),
    ("vars.s contains 'b'", True),
    ("'x' not contains 'y'", True),
    ("vars.s startsWith 'a'", True),
    ("vars.s endsWith 'c'", True),
    ("vars.s matches '^a'", True),
    ("vars.s not matches '^b'", True),
    # members, indexes and slices
    ("vars.m.b.c", "x"),
    ("vars.m['b']['c']", "x"),
    ("vars.m.zz", None),
    ("vars.m['zz']", None),
    ("vars.l[0]", 1),
    ("vars.l[-1]", 3),
    ("vars.l[vars.n - 1]", 3),
    ("vars.l[1:2]", [2]),
    ("vars.l[:2]", [1, 2]),
    ("vars.l[-2:]", [2, 3]),
    ("vars.l[5:]", []),
    ("vars.l[0:-1]", [1, 2]),
    ("'abc'[0:2]", "ab"),
    ("{'a': 1}.a", 1),
    ("outputs['update-image'].commitMessage", "bump"),
    # optional chaining and coalescing
    ("vars.nil?.x", None),
    ("vars.nil?.x.y", None),
    ("vars.nil?.['x']", None),
    ("vars.m?.b?.c", "x"),
    ("vars.m.z?.c", None),
    ("nil ?? 3", 3),
    ("vars.nil ?? vars.nil ?? 2", 2),
    ("(nil ?? 1) + 2", 3),
    ("missing ?? 'default'", "default"),
    # unknown variables are nil, as with Kargo's expr options (no typed environment)
    ("missing", None),
    ("missing == nil", True),
    ("missing?.x.y", None),
    ("missing?.[0]", None),
    ("$env.vars.n", 3),
    ("'vars' in $env", True),
    # conditionals
    ("true ? 1 : 2", 1),
    ("false ? 1 : 2", 2),
    ("true ? false ? 1 : 2 : 3", 2),
    ("false ?: 5", 5),
    ("true ?: 5", True),
    # pipes and comments
    ("'x' | upper()", "X"),
    ("'a,b' | split(',')", ["a", "b"]),
    ("1 /* one */ + 1 // two", 2),
    # built-ins
    ("len(vars.s)", 3),
    ("len(vars.l)", 3),
    ("len(vars.m)", 2),
    ("lower('ABC')", "abc"),
    ("upper('abc')", "ABC"),
    ("trim('  a ')", "a"),
    ("trim('xxaxx', 'x')", "a"),
    ("trimPrefix('v1.2', 'v')", "1.2"),
    ("trimSuffix('a.yaml', '.yaml')", "a"),
    ("split('a,b,c', ',')", ["a", "b", "c"]),
    ("split('a,b,c', ',', 2)", ["a", "b,c"]),
    ("join(['a', 'b'], '-')", "a-b"),
    ("replace('aXbX', 'X', 'y')", "ayby"),
    ("repeat('ab', 2)", "abab"),
    ("indexOf('abc', 'c')", 2),
    ("hasPrefix('abc', 'a')", True),
    ("hasSuffix('abc', 'c')", True),
    ("string(1.5)", "1.5"),
    ("string(100000.0)", "100000"),
    ("string(1e21)", "1e+21"),
    ("string(1.5e17)", "150000000000000000"),
    ("toJSON(1.5e17)", "150000000000000000"),
    ("string(1e-5)", "1e-05"),
    ("string(vars.l)", "[1 2 3]"),
    ("string(vars.m)", "map[a:1 b:map[c:x]]"),
    ("string(nil)", "<nil>"),
    ("string(true)", "true"),
    ("int('42')", 42),
    ("int(2.9)", 2),
    ("float('1.5')", 1.5),
    ("abs(-3)", 3),
    ("max(1, 5, 2)", 5),
    ("min(1.5, 2)", 1.5),
    ("keys({a: 1})", ["a"]),
    ("values({a: 1})", [1]),
    ("first([4, 5])", 4),
    ("last([4, 5])", 5),
    ("first([])", None),
    ("toJSON({b: [1, 2], a: '<'})", '{\n  "a": "\\u003c",\n  "b": [\n    1,\n    2\n  ]\n}'),
    ("toJSON([])", "[]"),
    ("fromJSON('{\"a\": [1]}')", {"a": [1]}),
    ("toBase64('hi')", "aGk="),
    ("fromBase64('aGk=')", "hi"),
    ("lastIndexOf('a.b.c', '.')", 3),
    ("splitAfter('a,b,c', ',')", ["a,", "b,", "c"]),
    ("splitAfter('a,b,c', ',', 2)", ["a,", "b,c"]),
    ("splitAfter('abc', '')", ["a", "b", "c"]),
    ("round(2.5)", 3.0),
    ("round(-2.5)", -3.0),
    ("round(2.4)", 2.0),
    ("round(3)", 3.0),
    ("ceil(1.2)", 2.0),
    ("floor(-1.2)", -2.0),
    # array and map helpers
    ("sort([3, 1.5, 2])", [1.5, 2, 3]),
    ("sort(['b', 'a'], 'desc')", ["b", "a"]),
    ("sort([])", []),
    ("reverse(vars.l)", [3, 2, 1]),
    ("uniq([1, 1.0, 'a', 'a', 2])", [1, "a", 2]),
    ("concat([1], vars.l, [])", [1, 1, 2, 3]),
    ("flatten([1, [2, [3, [4]]]])", [1, 2, 3, 4]),
    ("take(vars.l, 2)", [1, 2]),
    ("take(vars.l, 9)", [1, 2, 3]),
    ("get(vars.l, 5)", None),
    ("get(vars.l, -1)", 3),
    ("get(vars.m, 'zz')", None),
    ("get(vars.nil, 'x')", None),
    ("toPairs({a: 1})", [["a", 1]]),
    ("fromPairs([['a', 1], ['b', 2]])", {"a": 1, "b": 2}),
    ("(vars.l | reverse() | reverse()) == vars.l", True),
]


@pytest.mark.parametrize(("expression", "expected"), VALUES)
def test_values(expression: str, expected: Any) -> None:
    result = evaluate(expression, VARIABLES)
    assert result == expected
    assert type(result) is type(expected)


def test_division_by_zero_is_infinite_as_in_go() -> None:
    assert evaluate("vars.n / 0", VARIABLES) == math.inf
    assert math.isnan(evaluate("0 / 0", VARIABLES))


ERRORS = [
    # (expression, message fragment, position) — positions are expr's (0-based).
    ("vars.l[-4]", "index out of range: -1 (array length is 3)", 6),
    ("vars.l[3]", "index out of range: 3 (array length is 3)", 6),
    ("vars.s[10]", "index out of range: 10", 6),
    ("vars.s + vars.n", "invalid operation: string + int", 7),
    ("vars.n < vars.s", "invalid operation: int < string", 7),
    ("vars.s in vars.s", 'operator "in" not defined on string', 7),
    ("!vars.n", "invalid operation: ! int", 0),
    ("vars.n && true", "invalid operation: int && bool", 7),
    ("'' ? 1 : 2", "non-bool expression (type string) used as condition", 0),
    ("vars.nil.x", "cannot fetch x from <nil>", 9),
    ("vars.m.z.c", "cannot fetch c from <nil>", 9),
    ("vars.n % 0", "integer divide by zero", 7),
    ("len(vars.n)", "invalid argument for len (type int)", 0),
    ("vars.s matches '('", "invalid regular expression", 7),
    ("missing.x", "cannot fetch x from <nil>", 8),
    ("nope(1)", "unknown function nope()", 0),
    ("vars.s(1)", "string is not a function", 5),
    ("vars.nil()", "cannot call nil", 5),
    ("fromJSON('{')", "fromJSON:", 0),
    ("int('x')", "cannot convert 'x' to int", 0),
    ("sort([1, 'a'])", "invalid operation: ", 0),
    ("sort(vars.l, 'up')", "invalid order up, expected asc or desc", 0),
    ("sort('abc')", "cannot sort string", 0),
    ("concat([1], 2)", "cannot concat int", 0),
    ("concat()", "invalid number of arguments (expected at least 1, got 0)", 0),
    ("take(vars.l, -1)", "cannot take -1 elements", 0),
    ("fromPairs([[1]])", "invalid pair length 1", 0),
    ("toPairs([1])", "cannot transform array to pairs", 0),
    ("round('x')", "invalid argument for round (type string)", 0),
    ("vars.l == vars.l | reverse()", "cannot reverse bool", 19),  # "|" binds loosest
    # parse errors
    ("nil ?? 1 + 2", "Operator (+) and coalesce expressions (??) cannot be mixed", 9),
    ("'it''s'", 'unexpected token String("s")', 4),
    ("foo(", "unexpected token EOF", 3),
    ("1 +", "unexpected token EOF", 2),
    ("(1", "unexpected token EOF", 1),
    ("{a 1}", 'unexpected token Number("1")', 3),
    ("a.", "expected name", 1),
    ("'abc", "literal not terminated", 0),
    ('"\\q"', "invalid char escape", 1),
    ("1 @ 2", "unrecognized character: '@'", 2),
    ("1 2", 'unexpected token Number("2")', 2),
    ("a not b", 'unexpected token Identifier("b")', 6),
    ("1abc", "bad number syntax", 1),
]


@pytest.mark.parametrize(("expression", "message", "position"), ERRORS)
def test_errors_carry_expression_and_position(expression: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, VARIABLES)
    assert message in caught.value.message
    assert caught.value.position == position
    assert caught.value.expression == expression
    assert f"at position {position}" in str(caught.value)


def test_unknown_variables_are_nil_but_unknown_functions_are_errors() -> None:
    # Kargo compiles expressions without expr.Env, so a missing name reads as nil.
    assert evaluate("outputs.step?.result ?? nothing ?? 'fallback'", VARIABLES) == "fallback"
    with pytest.raises(ExpressionError, match=r"unknown function nothing\(\)") as caught:
        evaluate("vars.n + nothing(1)", VARIABLES)
    assert caught.value.position == 9


def test_error_can_be_located_by_callers() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("vars.nil.x", VARIABLES)
    located = caught.value.located("step 'update' config.path")
    assert str(located).startswith("step 'update' config.path: cannot fetch x from <nil>")


def test_keyword_operators_are_valid_property_names() -> None:
    assert evaluate("m.matches + m.in", {"m": {"matches": 1, "in": 2}}) == 3


def test_variables_may_be_any_mapping_and_are_not_changed() -> None:
    variables = {"vars": {"l": [1]}}
    assert evaluate("len(vars.l) == 1 ? vars.l[0] : 0", variables) == 1
    assert evaluate("vars.l", variables) == [1]
    assert variables == {"vars": {"l": [1]}}

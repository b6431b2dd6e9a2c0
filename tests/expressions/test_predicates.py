"""Closures and bindings: predicate built-ins, ``#``/``.field``, ``let``, ``;``, ``if``, pipes.

Expected values follow expr v1.17.8's parser, checker and compiler, and the cases of its own
test suite (``builtin/builtin_test.go``, ``expr_test.go``) where they apply.
"""

from typing import Any

import pytest

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import evaluate, evaluate_template, kargo_functions

IMAGES = [
    {"repoURL": "ghcr.io/a", "tag": "v1.2.0", "size": 2},
    {"repoURL": "ghcr.io/b", "tag": "v0.9.1", "size": 1},
    {"repoURL": "ghcr.io/c", "tag": "v1.2.0", "size": 3},
]
VARIABLES: dict[str, Any] = {
    "vars": {"images": IMAGES, "l": [1, 2, 3, 4], "flags": [True, False, True], "m": {"a": 1}},
    "l": [3, 1, 2],
}

VALUES = [
    # map, with # and #index
    ("map(vars.l, # * 2)", [2, 4, 6, 8]),
    ("map(vars.l, #index)", [0, 1, 2, 3]),
    ("map(vars.images, .tag)", ["v1.2.0", "v0.9.1", "v1.2.0"]),
    ("map(vars.images, #.repoURL)", ["ghcr.io/a", "ghcr.io/b", "ghcr.io/c"]),
    ("map(vars.l, {# + 1})", [2, 3, 4, 5]),  # braces hold the closure, not a map
    ("map(vars.l, {{n: #}})[0]", {"n": 1}),  # a map literal needs its own braces
    ("map([], #)", []),
    ("map([[1, 2], [3]], sum(#))", [3, 3]),
    ("map([[1, 2], [3]], map(#, # * 10))", [[10, 20], [30]]),  # # is the innermost element
    ("map([[1, 2]], map(#, #index))", [[0, 1]]),
    # filter and the boolean ones
    ("filter(vars.l, # % 2 == 0)", [2, 4]),
    ("filter(vars.images, .tag == 'v1.2.0') | map(.repoURL)", ["ghcr.io/a", "ghcr.io/c"]),
    ("all(vars.l, # > 0)", True),
    ("all([], false)", True),
    ("any(vars.l, # > 3)", True),
    ("any([], true)", False),
    ("none(vars.l, # > 4)", True),
    ("none(1..3, {# > 1 || # < 4})", False),
    ("one(vars.l, # == 2)", True),
    ("one(vars.images, .tag == 'v1.2.0')", False),
    # find and friends (nil when nothing matches)
    ("find(vars.images, .size > 1).repoURL", "ghcr.io/a"),
    ("find(vars.images, .size > 5)", None),
    ("find(vars.images, .size > 5)?.tag ?? 'none'", "none"),
    ("findIndex(vars.images, .repoURL == 'ghcr.io/c')", 2),
    ("findIndex(vars.l, # > 9)", None),
    ("findLast(1..9, # % 2 == 0)", 8),
    ("findLastIndex(1..9, # % 2 == 0)", 7),
    # count, sum
    ("count(1..30, {# % 3 == 0})", 10),
    ("count([true, true, false])", 2),
    ("count(vars.flags)", 2),
    ("sum(vars.l)", 10),
    ("sum([])", 0),
    ("sum([.5, 1.5, 2])", 4.0),
    ("sum(vars.images, .size)", 6),
    # groupBy, sortBy, reduce
    ("groupBy(1..9, # % 2)[0]", [2, 4, 6, 8]),
    ("groupBy(1..3, # > 1)[true]", [2, 3]),
    ("groupBy(1..3, # > 1 ? nil : '')[nil]", [2, 3]),
    ("keys(groupBy(vars.images, .tag))", ["v1.2.0", "v0.9.1"]),
    ("sortBy(vars.images, .size) | map(.size)", [1, 2, 3]),
    ("sortBy(vars.images, .tag, 'desc') | map(.repoURL)", ["ghcr.io/a", "ghcr.io/c", "ghcr.io/b"]),
    ("sortBy(l, -#)", [3, 2, 1]),
    ("sortBy([{id: 'a'}, {id: 'b'}], .id, 'desc')", [{"id": "b"}, {"id": "a"}]),
    ("reduce(1..9, # + #acc)", 45),
    ("reduce(1..9, # + #acc, 0)", 45),
    ("reduce([.5, 1.5, 2.5], # + #acc, 0)", 4.5),
    ("reduce([], 5, 0)", 0),
    ("reduce(10..1, # + #acc, 100)", 100),
    ("reduce(vars.l, #acc + #index, 0)", 6),
    ("reduce(vars.l, #acc + #index)", 7),  # the first element starts, so #index starts at 1
    # pipes put the left side first
    ("vars.l | map(# + 1)", [2, 3, 4, 5]),
    ("vars.l | filter(# > 1) | map(# * 10) | sum()", 90),
    ("vars.images | map(.repoURL) | join(',')", "ghcr.io/a,ghcr.io/b,ghcr.io/c"),
    ("vars.flags | count()", 2),
    ("vars.l | reduce(#acc * #, 1)", 24),
    # let, sequences, if/else
    ("let x = 2; x * 3", 6),
    ("let x = 2; let y = x + 1; x * y", 6),
    ("let tags = map(vars.images, .tag); len(uniq(tags))", 2),
    ("(let z = 1; z) + 1", 2),
    ("let vars = 1; vars + 1", 2),  # variables of the environment may be shadowed
    ("map(vars.l, {let y = # * 2; y + 1})", [3, 5, 7, 9]),
    ("let a_map = 0..5 | filter(# % 2 == 0) | map(#index); a_map", [0, 1, 2]),
    ("1; 2; 3", 3),
    ("1; 2;", 2),
    ("if 1 > 2 { 'a' } else { 'b' }", "b"),
    ("if false { 1 } else if true { 2 } else { 3 }", 2),
    ("if true { let x = 1; x } else { 0 }", 1),
    # :: calls the built-in even when a variable of the same name exists
    ("::len(vars.l)", 4),
]


@pytest.mark.parametrize(("expression", "expected"), VALUES)
def test_values(expression: str, expected: Any) -> None:
    result = evaluate(expression, VARIABLES)
    assert result == expected
    assert type(result) is type(expected)


def test_all_any_and_find_stop_at_the_first_deciding_element() -> None:
    # The later elements would fail ("cannot fetch ok from <nil>") if they were visited.
    items = [{"ok": False}, None]
    env = {"items": items}
    assert evaluate("all(items, .ok)", env) is False
    assert evaluate("any([{'ok': true}, nil], .ok)", env) is True
    assert evaluate("find([{'ok': true}, nil], .ok)", env) == {"ok": True}


def test_builtin_only_call_ignores_a_shadowing_function() -> None:
    env = {"len": lambda _: "mine", "l": [1, 2]}
    assert evaluate("len(l)", env) == "mine"
    assert evaluate("::len(l)", env) == 2


def test_predicates_in_templates_render_as_kargo_does() -> None:
    env = {"vars": VARIABLES["vars"], **kargo_functions(collection={})}
    template = "${{ vars.images | filter(.size > 1) | map(.repoURL) }}"
    assert evaluate_template(template, env) == ["ghcr.io/a", "ghcr.io/c"]
    assert evaluate_template("${{ join(map(vars.l, string(#)), '-') }}", env) == "1-2-3-4"
    assert evaluate_template("${{ let n = count(vars.flags); quote(n) }}", env) == "2"


def test_a_let_may_not_redeclare_a_kargo_function() -> None:
    env = kargo_functions(collection={})
    with pytest.raises(ExpressionError, match="cannot redeclare function imageFrom") as caught:
        evaluate("let imageFrom = 1; imageFrom", env)
    assert caught.value.position == 4


ERRORS = [
    # (expression, message fragment, position) — parse-time checks are expr's, with its
    # positions; run-time type checks use the messages of expr's checker.
    ("#", 'unexpected token Operator("#")', 0),
    (".a", 'unexpected token Operator(".")', 0),
    ("filter(vars.l, #index > 1)", "unknown pointer #index", 15),
    ("map(vars.l, #acc)", "unknown pointer #acc", 12),
    ("map(vars.images, filter(vars.l, # > #index))", "unknown pointer #index", 36),
    ("map(vars.l)", "expected at least 2 arguments", 10),
    ("map(vars.l, #, 3)", 'unexpected token Number("3")', 15),
    ("map(vars.l, # + 1; 2)", "wrap predicate with brackets { and }", 17),
    ("map(vars.l, {# + 1)", 'unexpected token Bracket(")")', 18),
    ("let len = 2; len", "cannot redeclare builtin len", 4),
    ("let map = 2; map", "cannot redeclare builtin map", 4),
    ("let x = 1; let x = 2; x", "cannot redeclare variable x", 15),
    ("let x = 1 x", 'unexpected token Identifier("x")', 10),
    ("let 1 = 1; 1", 'unexpected token Number("1")', 4),
    ("if true { 1 }", "unexpected token EOF", 12),
    ("if 1 { 1 } else { 2 }", "non-bool expression (type int) used as condition", 3),
    ("1 + let x = 1; x", 'unexpected token Operator("let")', 4),
    ("vars.l | map", "unexpected token EOF", 11),
    ("(1;)", 'unexpected token Bracket(")")', 3),
    ("filter(vars.l, #)", "predicate should return boolean (got int)", 15),
    ("all(vars.images, .tag)", "predicate should return boolean (got string)", 17),
    ("count(vars.l)", "predicate should return boolean (got int)", 11),
    ("filter(vars.m, true)", "builtin filter takes only array (got map)", 12),
    ("map(vars.nothing, #)", "builtin map takes only array (got nil)", 9),
    ("map('abc', #)", "builtin map takes only array (got string)", 4),
    ("sum(['a'])", "invalid operation: string + int", 0),
    ("sortBy(vars.l, #, 'up')", "unknown order, use asc or desc", 0),
    ("sortBy(vars.l, #, 1)", "sortBy order argument must be a string (got int)", 0),
    ("sortBy([1, 'a'], #)", "invalid operation: string < int", 0),
    ("groupBy(vars.l, [#])", "cannot group by a array", 0),
    ("reduce([], #acc)", "reduce of empty array with no initial value", 0),
    ("map(vars.l, # + 'x')", "invalid operation: int + string", 14),
]


@pytest.mark.parametrize(("expression", "message", "position"), ERRORS)
def test_errors_carry_expression_and_position(expression: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, VARIABLES)
    assert message in caught.value.message
    assert caught.value.position == position
    assert caught.value.expression == expression

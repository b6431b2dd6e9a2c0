"""A Pratt parser for expr-lang, mirroring expr v1.17's ``parser/parser.go``.

Precedence, associativity and the quirks are expr's: comparisons chain (``a < b < c`` is
``a < b && b < c``), unary ``-`` binds looser than ``**``, ``??`` cannot be mixed with
other operators without parentheses, ``not in``/``not matches``/... negate, ``x | f(y)``
is ``f(x, y)``, and the ternary (and ``?:``) is parsed only at the lowest precedence.

Predicate built-ins (``map``, ``filter``, ``all``, ``any``, ``none``, ``one``, ``find``,
``findIndex``, ``findLast``, ``findLastIndex``, ``count``, ``sum``, ``groupBy``,
``sortBy``, ``reduce``) take a closure as expr parses it: a bare expression or one in
``{ }`` (so ``map(xs, {.a})`` is ``map(xs, #.a)``; a map literal needs ``{{a: #}}``), in
which ``#`` is the element, ``.name`` is ``#.name``, ``#index`` the index (``map`` and
``reduce`` only) and ``#acc`` the accumulator (``reduce``). ``let x = v; body``,
``if c { a } else { b }``, ``a; b`` sequences and ``::len(x)`` (the built-in, whatever
shadows it) parse as in expr, and so do the checks expr makes before running: an unknown
``#name`` and a ``let`` that redeclares a built-in or an enclosing ``let`` are errors.
Not supported: byte strings (``b"..."``).
"""

import json
from dataclasses import dataclass
from typing import NoReturn

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.ast import (
    Array,
    Binary,
    Builtin,
    Call,
    Chain,
    Conditional,
    Identifier,
    Let,
    Literal,
    Map,
    Member,
    Node,
    Pointer,
    Predicate,
    Sequence,
    Slice,
    Unary,
)
from kargo_dagster.expressions.lexer import Kind, Token, tokenize

__all__ = ["parse"]


@dataclass(frozen=True)
class _Op:
    precedence: int
    right: bool = False


_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_BINARY = {
    "|": _Op(0),
    "or": _Op(10),
    "||": _Op(10),
    "and": _Op(15),
    "&&": _Op(15),
    **dict.fromkeys(("==", "!=", "<", ">", ">=", "<="), _Op(20)),
    **dict.fromkeys(("in", "matches", "contains", "startsWith", "endsWith"), _Op(20)),
    "..": _Op(25),
    "+": _Op(30),
    "-": _Op(30),
    "*": _Op(60),
    "/": _Op(60),
    "%": _Op(60),
    "**": _Op(100, right=True),
    "^": _Op(100, right=True),
    "??": _Op(500),
}
_COMPARISONS = frozenset({"<", ">", "<=", ">="})
_NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})

# Each predicate built-in's arguments, as expr's parser lists them: an expression, the
# predicate, and optional trailing ones.
_EXPR, _PREDICATE, _OPTIONAL = 1, 2, 4
_ARRAY_AND_CLOSURE = (
    "all", "none", "any", "one", "filter", "map", "find", "findIndex", "findLast",
    "findLastIndex", "groupBy",
)  # fmt: skip
_PREDICATES: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(_ARRAY_AND_CLOSURE, (_EXPR, _PREDICATE)),
    "count": (_EXPR, _PREDICATE | _OPTIONAL),
    "sum": (_EXPR, _PREDICATE | _OPTIONAL),
    "sortBy": (_EXPR, _PREDICATE, _EXPR | _OPTIONAL),
    "reduce": (_EXPR, _PREDICATE, _EXPR | _OPTIONAL),
}
# The pointers each predicate defines besides "#" (expr's checker rejects any other).
_POINTERS = {"map": ("index",), "reduce": ("index", "acc")}
# Every built-in of expr v1.17, which a "let" may not redeclare.
_EXPR_BUILTINS = frozenset(_PREDICATES) | frozenset(
    {
        "len", "type", "abs", "ceil", "floor", "round", "int", "float", "string", "trim",
        "trimPrefix", "trimSuffix", "upper", "lower", "split", "splitAfter", "replace",
        "repeat", "join", "indexOf", "lastIndexOf", "hasPrefix", "hasSuffix", "max", "min",
        "mean", "median", "toJSON", "fromJSON", "toBase64", "fromBase64", "now", "duration",
        "date", "timezone", "first", "last", "get", "take", "keys", "values", "toPairs",
        "fromPairs", "reverse", "uniq", "concat", "flatten", "sort", "bitnot", "bitand",
        "bitor", "bitxor", "bitnand", "bitshl", "bitshr", "bitushr",
    }
)  # fmt: skip


def _describe(token: Token) -> str:
    # expr prints tokens with Go's %#v, e.g. Operator(")").
    return f"{token.kind.value}({json.dumps(token.value)})" if token.value else token.kind.value


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        # The predicate built-ins being parsed (innermost last) and the enclosing lets.
        self.predicates: list[str] = []
        self.lets: list[str] = []

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        if token.kind is not Kind.EOF:
            self.index += 1
        return token

    def fail(self, message: str, token: Token | None = None) -> NoReturn:
        token = token or self.current
        raise ExpressionError(message, expression=self.text, position=token.pos)

    def unexpected(self, token: Token | None = None) -> NoReturn:
        token = token or self.current
        self.fail(f"unexpected token {_describe(token)}", token)

    def expect(self, kind: Kind, value: str) -> Token:
        if not self.current.is_(kind, value):
            self.unexpected()
        return self.advance()

    def parse(self) -> Node:
        node = self.sequence()
        if self.current.kind is not Kind.EOF:
            self.unexpected()
        return node

    def sequence(self) -> Node:
        nodes = [self.expression(0)]
        while self.current.is_(Kind.OPERATOR, ";"):
            self.advance()
            if self.current.kind is Kind.EOF:
                break  # a trailing ";" is allowed
            nodes.append(self.expression(0))
        return nodes[0] if len(nodes) == 1 else Sequence(nodes[0].pos, tuple(nodes))

    def expression(self, precedence: int) -> Node:
        if precedence == 0 and self.current.is_(Kind.OPERATOR, "let"):
            return self.let()
        if precedence == 0 and self.current.is_(Kind.OPERATOR, "if"):
            return self.if_else()
        left = self.primary()
        previous = ""
        while self.current.kind is Kind.OPERATOR:
            op_token = self.current
            negate = op_token.value == "not"
            if negate:
                following = self.tokens[self.index + 1]
                if following.value not in _NEGATABLE or following.kind is not Kind.OPERATOR:
                    self.unexpected(following)
                if _BINARY[following.value].precedence < precedence:
                    break
                self.advance()
                op_token = following
            op = _BINARY.get(op_token.value)
            if op is None or op.precedence < precedence:
                break
            self.advance()
            if op_token.value == "|":
                name = self.current
                if name.kind is not Kind.IDENTIFIER:
                    self.unexpected()
                self.advance()
                left = self.call(name, [left])
            else:
                if previous == "??" and op_token.value != "??":
                    self.fail(
                        f"Operator ({op_token.value}) and coalesce expressions (??) cannot be "
                        "mixed. Wrap either by parentheses.",
                        op_token,
                    )
                if op_token.value in _COMPARISONS:
                    left = self.comparison(left, op_token, op.precedence)
                else:
                    next_precedence = op.precedence if op.right else op.precedence + 1
                    right = self.expression(next_precedence)
                    left = Binary(op_token.pos, op_token.value, left, right)
                if negate:
                    left = Unary(op_token.pos, "not", left)
            previous = op_token.value
        if precedence == 0:
            left = self.conditional(left)
        return left

    def comparison(self, left: Node, token: Token, precedence: int) -> Node:
        # a < b <= c means a < b && b <= c, as in expr.
        root: Node | None = None
        while True:
            right = self.expression(precedence + 1)
            compare = Binary(token.pos, token.value, left, right)
            root = compare if root is None else Binary(token.pos, "&&", root, compare)
            left, token = right, self.current
            if not (token.kind is Kind.OPERATOR and token.value in _COMPARISONS):
                return root
            self.advance()

    def let(self) -> Node:
        self.advance()
        name = self.current
        if name.kind is not Kind.IDENTIFIER:
            self.unexpected()
        if name.value in _EXPR_BUILTINS:
            self.fail(f"cannot redeclare builtin {name.value}", name)
        if name.value in self.lets:
            self.fail(f"cannot redeclare variable {name.value}", name)
        self.advance()
        self.expect(Kind.OPERATOR, "=")
        value = self.expression(0)
        self.expect(Kind.OPERATOR, ";")
        self.lets.append(name.value)
        try:
            body = self.sequence()
        finally:
            self.lets.pop()
        return Let(name.pos, name.value, value, body)

    def if_else(self) -> Node:
        keyword = self.advance()
        cond = self.expression(0)
        self.expect(Kind.BRACKET, "{")
        then = self.sequence()
        self.expect(Kind.BRACKET, "}")
        self.expect(Kind.OPERATOR, "else")
        if self.current.is_(Kind.OPERATOR, "if"):
            otherwise = self.if_else()
        else:
            self.expect(Kind.BRACKET, "{")
            otherwise = self.sequence()
            self.expect(Kind.BRACKET, "}")
        return Conditional(keyword.pos, cond, then, otherwise)

    def conditional(self, node: Node) -> Node:
        while self.current.is_(Kind.OPERATOR, "?"):
            question = self.advance()
            if self.current.is_(Kind.OPERATOR, ":"):
                self.advance()
                node = Conditional(question.pos, node, node, self.expression(0))
            else:
                then = self.expression(0)
                self.expect(Kind.OPERATOR, ":")
                node = Conditional(question.pos, node, then, self.expression(0))
        return node

    def primary(self) -> Node:
        token = self.current
        if token.kind is Kind.OPERATOR and token.value in _UNARY:
            self.advance()
            operand = self.expression(_UNARY[token.value])
            return self.postfix(Unary(token.pos, token.value, operand))
        if token.is_(Kind.BRACKET, "("):
            self.advance()
            inner = self.sequence()
            self.expect(Kind.BRACKET, ")")
            return self.postfix(inner)
        if self.predicates and token.kind is Kind.OPERATOR and token.value in ("#", "."):
            return self.postfix(self.pointer())
        if token.is_(Kind.OPERATOR, "::"):
            self.advance()
            name = self.current
            if name.kind is not Kind.IDENTIFIER:
                self.unexpected()
            self.advance()
            return self.postfix(self.call(name, [], builtin_only=True))
        return self.secondary()

    def pointer(self) -> Node:
        token = self.current
        name = ""
        if token.value == "#":
            # A leading "." is left for postfix(), which reads it as "#.name".
            self.advance()
            if self.current.kind is Kind.IDENTIFIER:
                name = self.advance().value
        if name and name not in _POINTERS.get(self.predicates[-1], ()):
            self.fail(f"unknown pointer #{name}", token)
        return Pointer(token.pos, name)

    def secondary(self) -> Node:
        token = self.current
        node: Node
        if token.kind is Kind.IDENTIFIER:
            self.advance()
            if token.value in ("true", "false", "nil"):
                return Literal(token.pos, {"true": True, "false": False, "nil": None}[token.value])
            if self.current.is_(Kind.BRACKET, "("):
                node = self.call(token, [])
            else:
                node = Identifier(token.pos, token.value)
        elif token.kind is Kind.NUMBER:
            self.advance()
            return Literal(token.pos, self.number(token))
        elif token.kind is Kind.STRING:
            self.advance()
            node = Literal(token.pos, token.value)
        elif token.is_(Kind.BRACKET, "["):
            node = self.array()
        elif token.is_(Kind.BRACKET, "{"):
            node = self.map()
        else:
            self.unexpected()
        return self.postfix(node)

    def number(self, token: Token) -> int | float:
        text = token.value.replace("_", "")
        lowered = text.lower()
        try:
            if lowered.startswith(("0x", "0o", "0b")):
                value: int | float = int(lowered[2:], {"x": 16, "o": 8, "b": 2}[lowered[1]])
            elif "." in lowered or "e" in lowered:
                value = float(text)
            else:
                value = int(text, 10)
        except ValueError:
            self.fail(f"invalid number literal {token.value!r}", token)
        if isinstance(value, int) and value > 2**63 - 1:
            self.fail("integer literal is too large", token)
        if value == float("inf"):
            self.fail("float literal is too large", token)
        return value

    def call(self, name: Token, args: list[Node], *, builtin_only: bool = False) -> Node:
        if name.value in _PREDICATES:
            return self.predicate_call(name, args)
        arguments = self.arguments(args)
        return Call(name.pos, Identifier(name.pos, name.value), arguments, builtin_only)

    def predicate_call(self, name: Token, args: list[Node]) -> Node:
        # After a pipe the collection is already there: parse only the remaining arguments.
        expected = _PREDICATES[name.value][len(args) :]
        self.expect(Kind.BRACKET, "(")
        for i, kind in enumerate(expected):
            if self.current.is_(Kind.BRACKET, ")"):
                if kind & _OPTIONAL:
                    break
                self.fail(f"expected at least {len(expected)} arguments")
            if i > 0:
                self.expect(Kind.OPERATOR, ",")
            args.append(self.predicate(name.value) if kind & _PREDICATE else self.expression(0))
        if self.current.is_(Kind.OPERATOR, ","):
            self.advance()
        self.expect(Kind.BRACKET, ")")
        return Builtin(name.pos, name.value, tuple(args))

    def predicate(self, builtin: str) -> Node:
        start = self.current
        braces = start.is_(Kind.BRACKET, "{")
        if braces:
            self.advance()
        self.predicates.append(builtin)
        try:
            if braces:
                node = self.sequence()
            else:
                node = self.expression(0)
                if self.current.is_(Kind.OPERATOR, ";"):
                    self.fail("wrap predicate with brackets { and }")
        finally:
            self.predicates.pop()
        if braces:
            self.expect(Kind.BRACKET, "}")
        return Predicate(start.pos, node)

    def arguments(self, args: list[Node]) -> tuple[Node, ...]:
        given = len(args)
        self.expect(Kind.BRACKET, "(")
        while not self.current.is_(Kind.BRACKET, ")"):
            if len(args) > given:
                self.expect(Kind.OPERATOR, ",")
            if self.current.is_(Kind.BRACKET, ")"):
                break
            args.append(self.expression(0))
        self.expect(Kind.BRACKET, ")")
        return tuple(args)

    def array(self) -> Node:
        start = self.expect(Kind.BRACKET, "[")
        items: list[Node] = []
        while not self.current.is_(Kind.BRACKET, "]"):
            if items:
                self.expect(Kind.OPERATOR, ",")
                if self.current.is_(Kind.BRACKET, "]"):
                    break
            items.append(self.expression(0))
        self.expect(Kind.BRACKET, "]")
        return Array(start.pos, tuple(items))

    def map(self) -> Node:
        start = self.expect(Kind.BRACKET, "{")
        pairs: list[tuple[Node, Node]] = []
        while not self.current.is_(Kind.BRACKET, "}"):
            if pairs:
                self.expect(Kind.OPERATOR, ",")
                if self.current.is_(Kind.BRACKET, "}"):
                    break
            token = self.current
            key: Node
            if token.kind in (Kind.NUMBER, Kind.STRING, Kind.IDENTIFIER):
                self.advance()
                key = Literal(token.pos, token.value)
            elif token.is_(Kind.BRACKET, "("):
                key = self.expression(0)
            else:
                self.fail(
                    "a map key must be a quoted string, a number, a identifier, or an "
                    f"expression enclosed in parentheses (unexpected token {_describe(token)})"
                )
            self.expect(Kind.OPERATOR, ":")
            pairs.append((key, self.expression(0)))
        self.expect(Kind.BRACKET, "}")
        return Map(start.pos, tuple(pairs))

    def postfix(self, node: Node) -> Node:
        while self.current.kind in (Kind.OPERATOR, Kind.BRACKET):
            token = self.current
            optional = token.value == "?."
            if optional and self.tokens[self.index + 1].is_(Kind.BRACKET, "["):
                self.advance()
                node = self.index_or_slice(node, self.current, optional=True)
            elif token.value in (".", "?."):
                self.advance()
                node = self.member(node, optional)
            elif token.is_(Kind.BRACKET, "["):
                node = self.index_or_slice(node, token, optional=False)
            else:
                break
        return node

    def member(self, node: Node, optional: bool) -> Node:
        name = self.advance()
        # Keyword operators such as "matches" are valid property names, as in expr.
        if name.kind is not Kind.IDENTIFIER and not (
            name.kind is Kind.OPERATOR and name.value.isidentifier()
        ):
            self.fail("expected name")
        in_chain = isinstance(node, Chain)
        base = node.node if isinstance(node, Chain) else node
        result: Node = Member(name.pos, base, Literal(name.pos, name.value), optional)
        if self.current.is_(Kind.BRACKET, "("):
            result = Call(name.pos, result, self.arguments([]))
        return Chain(name.pos, result) if in_chain or optional else result

    def index_or_slice(self, node: Node, bracket: Token, *, optional: bool) -> Node:
        self.expect(Kind.BRACKET, "[")
        start: Node | None = None
        if not self.current.is_(Kind.OPERATOR, ":"):
            start = self.expression(0)
            if not self.current.is_(Kind.OPERATOR, ":"):
                self.expect(Kind.BRACKET, "]")
                member = Member(bracket.pos, node, start, optional)
                return Chain(bracket.pos, member) if optional else member
        self.advance()
        end = None if self.current.is_(Kind.BRACKET, "]") else self.expression(0)
        self.expect(Kind.BRACKET, "]")
        return Slice(bracket.pos, node, start, end)


def parse(text: str) -> Node:
    """Parse one expr-lang expression.

    Raises:
        ExpressionError: The text does not parse; ``position`` is where, as expr reports it.
    """
    return _Parser(text).parse()

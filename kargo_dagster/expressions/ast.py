"""The syntax tree of an expr-lang expression.

Every node records ``pos``, the 0-based offset of the token that expr blames for errors in
it (the operator of a binary node, the property of a member access, the callee of a call).
"""

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Array",
    "Binary",
    "Builtin",
    "Call",
    "Chain",
    "Conditional",
    "Identifier",
    "Let",
    "Literal",
    "Map",
    "Member",
    "Node",
    "Pointer",
    "Predicate",
    "Sequence",
    "Slice",
    "Unary",
]


@dataclass(frozen=True)
class Node:
    """Base of every node."""

    pos: int


@dataclass(frozen=True)
class Literal(Node):
    """``nil``, ``true``, a number or a string."""

    value: Any


@dataclass(frozen=True)
class Identifier(Node):
    """A variable (or, as a callee, a function) name."""

    name: str


@dataclass(frozen=True)
class Member(Node):
    """``node.name``, ``node[expr]``, ``node?.name`` or ``node?.[expr]``."""

    node: Node
    property: Node
    optional: bool = False


@dataclass(frozen=True)
class Chain(Node):
    """A member chain containing ``?.``: a nil before any ``?.`` makes the whole chain nil."""

    node: Node


@dataclass(frozen=True)
class Slice(Node):
    """``node[start:end]`` with either bound optional."""

    node: Node
    start: Node | None
    end: Node | None


@dataclass(frozen=True)
class Call(Node):
    """A call of a function (``Identifier`` callee) or a method (``Member`` callee).

    ``builtin_only`` marks ``::name()``, which calls expr's built-in even where a
    variable or function of that name exists.
    """

    callee: Node
    args: tuple[Node, ...]
    builtin_only: bool = False


@dataclass(frozen=True)
class Builtin(Node):
    """A call of a built-in that takes a predicate: ``map``, ``filter``, ``all``, ...

    ``args`` hold the collection, then the :class:`Predicate`, then any further argument
    (``sortBy``'s order, ``reduce``'s initial value).
    """

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Predicate(Node):
    """The closure a predicate built-in runs for each element (``# > 1``, ``{ .ok }``)."""

    node: Node


@dataclass(frozen=True)
class Pointer(Node):
    """``#`` (the current element, also written as a leading ``.name``), ``#index``, ``#acc``."""

    name: str


@dataclass(frozen=True)
class Let(Node):
    """``let name = value; body``."""

    name: str
    value: Node
    body: Node


@dataclass(frozen=True)
class Sequence(Node):
    """``a; b; c``: each is evaluated in turn and the last one is the value."""

    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Unary(Node):
    """``!x``, ``not x``, ``-x``, ``+x``."""

    op: str
    node: Node


@dataclass(frozen=True)
class Binary(Node):
    """``left op right`` for every binary operator, including ``??`` and ``..``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Conditional(Node):
    """``cond ? then : otherwise`` (``cond ?: otherwise`` uses ``cond`` as ``then``)."""

    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Array(Node):
    """``[a, b, ...]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Map(Node):
    """``{key: value, ...}``; keys are nodes (a bare name or number is a string literal)."""

    pairs: tuple[tuple[Node, Node], ...]

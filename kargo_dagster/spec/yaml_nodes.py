"""YAML nodes composed from libyaml's parse events, with the mark of each.

PyYAML's own composer follows YAML 1.1 and rejects an anchor used again; :func:`compose`
builds the nodes of one document itself, resolving plain scalars by
:mod:`kargo_dagster.spec.yaml_values` and letting a later anchor replace an earlier one, as
ruamel.yaml did. :mod:`kargo_dagster.spec.locations` builds the plain data from them.

Composing is also where hostile YAML is stopped, before any data is built: every node knows
how many nodes and how many levels it stands for once its aliases are expanded, so a few
lines of nested aliases (a "billion laughs") or thousands of nested brackets are refused
with :class:`RefusedError` as soon as they pass :data:`MAX_ALIASED_NODES`,
:data:`MAX_NODES` or :data:`MAX_DEPTH`. So is a tag in YAML's own ``!!`` namespace that
names no YAML type (``!!python/object``); application tags (``!custom``) keep their plain
reading, as in ruamel.yaml.
"""

from collections.abc import Callable
from typing import Any

from yaml.composer import ComposerError
from yaml.error import Mark, MarkedYAMLError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from kargo_dagster.spec.yaml_values import (
    BINARY,
    BOOL,
    FLOAT,
    INT,
    MAP,
    MERGE,
    NULL,
    OMAP,
    PAIRS,
    SEQ,
    SET,
    STR,
    TIMESTAMP,
    YAML_TYPE_PREFIX,
    Version,
    resolve_plain,
)

__all__ = [
    "MAX_ALIASED_NODES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Mapping",
    "Node",
    "NodeBudget",
    "RefusedError",
    "Scalar",
    "Sequence",
    "compose",
    "too_deep",
]

MAX_DEPTH = 100
"""Most levels of nested lists and mappings in a document, aliases expanded.

Kargo manifests need about a dozen; the limit keeps the recursive steps after reading (the
data builder, validation, expression checks) far from Python's recursion limit.
"""

MAX_NODES = 250_000
"""Most nodes (scalars, lists, mappings) one file may stand for, aliases expanded.

About a second to read; the largest real manifest files have a few thousand.
"""

MAX_ALIASED_NODES = 100_000
"""Most nodes the aliases of one file may stand for, each alias counted where it is used.

Aliases of aliases multiply: without this, a 1 KB file would stand for billions of nodes.
Manifests that share a block of settings by an alias stay far below it.
"""

# YAML's own types that have a reading here: the core schema's and the YAML 1.1 types
# ruamel.yaml read (sets, ordered maps, pairs, binary, timestamps, merge keys).
_YAML_TYPES = frozenset(
    {STR, INT, FLOAT, BOOL, NULL, MAP, SEQ, BINARY, TIMESTAMP, MERGE, SET, OMAP, PAIRS}
)
_CORE_TYPES = "!!str, !!int, !!float, !!bool, !!null, !!map and !!seq"


class RefusedError(MarkedYAMLError):
    """Well-formed YAML that is not read: past a limit, or with a tag that names no YAML type.

    Its ``problem`` is the whole message, saying what to change.
    """


class NodeBudget:
    """What a file may still stand for; all its documents spend from one budget."""

    __slots__ = ("aliased", "nodes")

    def __init__(self) -> None:
        self.nodes = MAX_NODES
        self.aliased = MAX_ALIASED_NODES

    def node(self, mark: Mark) -> None:
        """Takes one node written out in the file."""
        self.nodes -= 1
        if self.nodes < 0:
            raise _too_many(mark)

    def alias(self, size: int, mark: Mark) -> None:
        """Takes the ``size`` nodes an alias stands for."""
        self.nodes -= size
        self.aliased -= size
        if self.aliased < 0:
            raise RefusedError(
                None,
                None,
                f"the aliases in the file stand for more than {MAX_ALIASED_NODES:,} YAML "
                f"nodes (the limit is {MAX_ALIASED_NODES:,}); nested aliases multiply, as in "
                'a "billion laughs": write the repeated values out, or alias fewer levels',
                mark,
            )
        if self.nodes < 0:
            raise _too_many(mark)


def _too_many(mark: Mark) -> RefusedError:
    return RefusedError(
        None,
        None,
        f"the file stands for more than {MAX_NODES:,} YAML nodes, aliases expanded (the limit "
        f"is {MAX_NODES:,}); split it into several files",
        mark,
    )


class Scalar:
    """A scalar: its resolved tag, its text, where it starts."""

    __slots__ = ("mark", "tag", "value")
    kind = "scalar"
    size = 1  # nodes it stands for
    height = 0  # levels of collections it holds

    def __init__(self, tag: str, value: str, mark: Mark) -> None:
        self.tag = tag
        self.value = value
        self.mark = mark


class Sequence:
    """A sequence node and its items."""

    __slots__ = ("height", "items", "mark", "size", "tag")
    kind = "sequence"

    def __init__(self, tag: str, mark: Mark) -> None:
        self.tag = tag
        self.mark = mark
        self.items: list[Node] = []
        self.size = 1  # nodes it stands for, aliases expanded
        self.height = 1  # levels of collections, itself included, aliases expanded


class Mapping:
    """A mapping node; its items alternate keys and values."""

    __slots__ = ("height", "items", "mark", "size", "tag")
    kind = "mapping"

    def __init__(self, tag: str, mark: Mark) -> None:
        self.tag = tag
        self.mark = mark
        self.items: list[Node] = []  # key, value, key, value, ...
        self.size = 1  # nodes it stands for, aliases expanded
        self.height = 1  # levels of collections, itself included, aliases expanded


Node = Scalar | Sequence | Mapping


def compose(get_event: Callable[[], Any], version: Version, budget: NodeBudget) -> Node:
    """Composes one document from its first node's event to its DocumentEndEvent.

    Raises:
        ComposerError: An alias names no anchor.
        RefusedError: The document goes past :data:`MAX_DEPTH` or the file past its
            ``budget``, or a tag names no YAML type.
    """
    anchors: dict[str, Node] = {}
    open_collections: list[Sequence | Mapping] = []
    open_ids: set[int] = set()
    root: Node | None = None
    while True:
        event = get_event()
        kind = type(event)
        node: Node
        # What the node stands for once built: nodes, and levels of collections.
        size, height = 1, 0
        if kind is ScalarEvent:
            node = _scalar(event, version)
            budget.node(event.start_mark)
            if event.anchor is not None:
                anchors[event.anchor] = node
        elif kind is AliasEvent:
            node = _alias(event, anchors)
            # An alias inside what it names is read as null (see locations._Builder).
            if id(node) not in open_ids:
                size, height = node.size, node.height
                _check_depth(len(open_collections) + height, event.start_mark)
                budget.alias(size, event.start_mark)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            _check_depth(len(open_collections) + 1, event.start_mark)
            budget.node(event.start_mark)
            collection = _collection(event)
            # Registered before its children, so that an alias inside refers to it.
            if event.anchor is not None:
                anchors[event.anchor] = collection
            open_collections.append(collection)
            open_ids.add(id(collection))
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            node = open_collections.pop()
            open_ids.discard(id(node))
            size, height = node.size, node.height
        else:  # DocumentEndEvent
            if root is None:  # a parser never ends a document without a node
                raise ComposerError(None, None, "found a document without content", None)
            return root
        if open_collections:
            # Inline rather than a function: this runs for every node of every file.
            parent = open_collections[-1]
            parent.items.append(node)
            parent.size += size
            if height >= parent.height:
                parent.height = height + 1
        else:
            root = node


def _scalar(event: Any, version: Version) -> Scalar:
    tag = event.tag
    # A bare "!" asks for the plain reading even of a quoted or empty scalar (libyaml does
    # not flag an empty one as plain; ruamel.yaml read it as null).
    if tag == "!" or (tag is None and event.implicit[0]):
        tag = resolve_plain(event.value, version)
    elif tag is None:
        tag = STR
    else:
        _check_tag(tag, event.start_mark)
    return Scalar(tag, event.value, event.start_mark)


def _alias(event: Any, anchors: dict[str, Node]) -> Node:
    target = anchors.get(event.anchor)
    if target is None:
        raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
    return target


def _collection(event: Any) -> Sequence | Mapping:
    tag = event.tag
    if tag is not None and tag != "!":
        _check_tag(tag, event.start_mark)
    if type(event) is MappingStartEvent:
        return Mapping(MAP if tag is None or tag == "!" else tag, event.start_mark)
    return Sequence(SEQ if tag is None or tag == "!" else tag, event.start_mark)


def _check_depth(depth: int, mark: Mark) -> None:
    if depth > MAX_DEPTH:
        raise too_deep(mark)


def too_deep(mark: Mark | None) -> RefusedError:
    """The error for nesting past :data:`MAX_DEPTH` at ``mark``."""
    return RefusedError(
        None,
        None,
        f"lists and mappings nested more than {MAX_DEPTH} levels deep, aliases expanded "
        f"(the limit is {MAX_DEPTH}); a manifest needs far fewer: flatten the structure",
        mark,
    )


def _check_tag(tag: str, mark: Mark) -> None:
    if tag.startswith(YAML_TYPE_PREFIX) and tag not in _YAML_TYPES:
        shown = "!!" + tag.removeprefix(YAML_TYPE_PREFIX)
        raise RefusedError(
            None,
            None,
            f"the tag {shown} names no YAML type kargo-dagster reads ({_CORE_TYPES} are "
            "YAML's own); remove the tag",
            mark,
        )

"""YAML nodes composed from libyaml's parse events, with the mark of each.

PyYAML's own composer follows YAML 1.1 and rejects an anchor used again; :func:`compose`
builds the nodes of one document itself, resolving plain scalars by
:mod:`kargo_dagster.spec.yaml_values` and letting a later anchor replace an earlier one, as
ruamel.yaml did. :mod:`kargo_dagster.spec.locations` builds the plain data from them.
"""

from collections.abc import Callable
from typing import Any

from yaml.composer import ComposerError
from yaml.error import Mark
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from kargo_dagster.spec.yaml_values import MAP, SEQ, STR, Version, resolve_plain

__all__ = ["Mapping", "Node", "Scalar", "Sequence", "compose"]


class Scalar:
    """A scalar: its resolved tag, its text, where it starts."""

    __slots__ = ("mark", "tag", "value")
    kind = "scalar"

    def __init__(self, tag: str, value: str, mark: Mark) -> None:
        self.tag = tag
        self.value = value
        self.mark = mark


class Sequence:
    """A sequence node and its items."""

    __slots__ = ("items", "mark", "tag")
    kind = "sequence"

    def __init__(self, tag: str, mark: Mark) -> None:
        self.tag = tag
        self.mark = mark
        self.items: list[Node] = []


class Mapping:
    """A mapping node; its items alternate keys and values."""

    __slots__ = ("items", "mark", "tag")
    kind = "mapping"

    def __init__(self, tag: str, mark: Mark) -> None:
        self.tag = tag
        self.mark = mark
        self.items: list[Node] = []  # key, value, key, value, ...


Node = Scalar | Sequence | Mapping


def compose(get_event: Callable[[], Any], version: Version) -> Node:
    """Composes one document from its first node's event to its DocumentEndEvent."""
    anchors: dict[str, Node] = {}
    open_collections: list[Sequence | Mapping] = []
    root: Node | None = None
    while True:
        event = get_event()
        kind = type(event)
        node: Node
        if kind is ScalarEvent:
            tag = event.tag
            # A bare "!" asks for the plain reading even of a quoted or empty scalar (libyaml
            # does not flag an empty one as plain; ruamel.yaml read it as null).
            if tag == "!" or (tag is None and event.implicit[0]):
                tag = resolve_plain(event.value, version)
            elif tag is None:
                tag = STR
            node = Scalar(tag, event.value, event.start_mark)
            if event.anchor is not None:
                anchors[event.anchor] = node
        elif kind is AliasEvent:
            target = anchors.get(event.anchor)
            if target is None:
                raise ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            node = target
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            tag = event.tag
            collection: Sequence | Mapping
            if kind is MappingStartEvent:
                collection = Mapping(MAP if tag is None or tag == "!" else tag, event.start_mark)
            else:
                collection = Sequence(SEQ if tag is None or tag == "!" else tag, event.start_mark)
            # Registered before its children, so that an alias inside refers to it.
            if event.anchor is not None:
                anchors[event.anchor] = collection
            open_collections.append(collection)
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            node = open_collections.pop()
        else:  # DocumentEndEvent
            if root is None:  # a parser never ends a document without a node
                raise ComposerError(None, None, "found a document without content", None)
            return root
        if open_collections:
            open_collections[-1].items.append(node)
        else:
            root = node

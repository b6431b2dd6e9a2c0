"""Change scalar values in YAML text without touching anything else.

Kargo's ``yaml-update`` finds the scalar a key path addresses and rewrites only that
value's text, so comments, key order, quoting and indentation elsewhere stay byte-for-byte
and a Git diff shows one line. This module does the same with PyYAML's node marks: it
replaces exactly the characters of the old scalar (keeping its anchor, its quote style when
the new value can use it, and the rest of the line, including a trailing comment).
"""

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.documents.key_paths import split_key
from kargo_dagster.promotion.documents.scalar_text import looks_like_other_type


@dataclass(frozen=True)
class YamlUpdate:
    """One value to set: ``key`` is a Kargo dotted key path."""

    key: str
    value: Any


@dataclass(frozen=True)
class _Target:
    node: yaml.ScalarNode
    in_flow: bool


def _first_document(text: str) -> yaml.Node | None:
    try:
        for document in yaml.compose_all(text, Loader=yaml.SafeLoader):
            # Kargo reads only the first document of a stream.
            return document
    except yaml.YAMLError as error:
        raise TerminalStepError(f"cannot parse YAML: {error}") from error
    return None


def _alias_edges(root: yaml.Node) -> set[tuple[int, int]]:
    # PyYAML hands back the anchored node itself where an alias stands. Anchors come before
    # their aliases, so in a document-order walk any second sighting of a node is an alias,
    # which Kargo refuses to update through.
    seen: set[int] = set()
    aliases: set[tuple[int, int]] = set()

    def visit(node: yaml.Node) -> None:
        if isinstance(node, yaml.MappingNode):
            children = [value for _key, value in node.value]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            return
        for position, child in enumerate(children):
            if id(child) in seen:
                aliases.add((id(node), position))
                continue
            seen.add(id(child))
            visit(child)

    visit(root)
    return aliases


def _find_scalar(root: yaml.Node | None, key: str) -> _Target:
    parts = split_key(key)
    if root is None:
        raise TerminalStepError(f"key {key!r} not found: the document is empty")
    aliases = _alias_edges(root)
    node: yaml.Node = root
    in_flow = False
    for depth, part in enumerate(parts):
        where = ".".join(p.text for p in parts[: depth + 1])
        if isinstance(node, yaml.MappingNode):
            position = next(
                (i for i, (k, _v) in enumerate(node.value) if k.value == part.text), None
            )
            if position is None:
                raise TerminalStepError(f"key {key!r} not found (no {where!r})")
        elif isinstance(node, yaml.SequenceNode):
            position = part.index()
            if position is None or position < 0 or position >= len(node.value):
                raise TerminalStepError(
                    f"key {key!r} not found ({where!r} is not an index of a list of "
                    f"{len(node.value)} items)"
                )
        else:
            raise TerminalStepError(f"key {key!r} not found ({where!r} is inside a scalar)")
        if (id(node), position) in aliases:
            raise TerminalStepError(f"key {key!r} goes through an alias at {where!r}")
        in_flow = bool(node.flow_style)
        child = node.value[position]
        node = child[1] if isinstance(node, yaml.MappingNode) else child
    if not isinstance(node, yaml.ScalarNode):
        raise TerminalStepError(f"key {key!r} does not address a scalar value")
    return _Target(node, in_flow)


# YAML 1.1 readers (Helm's go-yaml v2 among them) take these for booleans; PyYAML does not
# know the one-letter forms.
_YAML11_BOOLS = frozenset("y Y yes Yes YES n N no No NO on On ON off Off OFF".split())


def _plain_is_safe(text: str, in_flow: bool) -> bool:
    if text in _YAML11_BOOLS:
        return False
    if not text or text != text.strip() or "\n" in text or looks_like_other_type(text):
        return False
    if in_flow and any(c in text for c in ",[]{}"):
        return False
    try:
        return yaml.safe_load(f"k: {text}\n") == {"k": text}
    except yaml.YAMLError:
        return False


def _single_quoted(text: str) -> str | None:
    if any(not c.isprintable() for c in text):
        return None
    return "'" + text.replace("'", "''") + "'"


def render_scalar(value: Any, *, style: str | None = None, in_flow: bool = False) -> str:
    """``value`` as one line of YAML that reads back as the same value and type.

    Args:
        value: The new value (string, number, bool, None, or a list/mapping as flow JSON).
        style: The old scalar's quote style (``'``, ``"`` or None) to keep for strings.
        in_flow: The value sits inside a flow collection, where ``,[]{}`` need quotes.
    """
    if isinstance(value, str):
        if style == "'":
            quoted = _single_quoted(value)
            if quoted is not None:
                return quoted
        if style != '"' and _plain_is_safe(value, in_flow):
            return value
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _block_replacement(old: str, value: Any, content_indent: int) -> str:
    # A block scalar's span runs from its "|" or ">" header through its trailing blank
    # lines; keep those blank lines so the next key stays where it was.
    lines = old.splitlines(keepends=True)
    last_content = max((i for i, line in enumerate(lines) if i > 0 and line.strip()), default=0)
    tail = "".join(lines[last_content + 1 :])
    if isinstance(value, str) and "\n" in value.rstrip("\n"):
        chomp = "-" if not value.endswith("\n") else ("" if not value.endswith("\n\n") else "+")
        pad = " " * content_indent
        body = "".join(
            (pad + line if line.strip() else line.rstrip(" ")) + "\n"
            for line in value.rstrip("\n").split("\n")
        )
        extra = "\n" * (len(value) - len(value.rstrip("\n")) - 1) if chomp == "+" else ""
        return f"|{chomp}\n{body}{extra}{tail}"
    return render_scalar(value) + "\n" + tail


_PROPERTY = re.compile(r"([&!]\S*)[ \t]+")


def _split_properties(old: str) -> tuple[str, int]:
    # A scalar's span starts at its anchor or tag. Keep the anchor (aliases refer to it);
    # drop the tag, which could contradict the new value's type, as Kargo does.
    kept = ""
    offset = 0
    while match := _PROPERTY.match(old, offset):
        if match.group(1).startswith("&"):
            kept += match.group(0)
        offset = match.end()
    return kept, offset


def set_values(text: str, updates: Sequence[YamlUpdate]) -> str:
    """Apply ``updates`` to YAML ``text``; every key must exist and address a scalar.

    Raises:
        TerminalStepError: The text is not YAML, or a key is missing, malformed, goes
            through an alias or addresses a mapping or list.
    """
    root = _first_document(text)
    changes: dict[int, tuple[int, str]] = {}
    for update in updates:
        target = _find_scalar(root, update.key)
        node = target.node
        start, end = node.start_mark.index, node.end_mark.index
        old = text[start:end]
        prefix, offset = _split_properties(old)
        old_value_start = start + offset
        if node.style in ("|", ">"):
            indent = _content_indent(text, node)
            new = prefix + _block_replacement(text[old_value_start:end], update.value, indent)
        else:
            style = node.style if node.style in ("'", '"') else None
            new = prefix + render_scalar(update.value, style=style, in_flow=target.in_flow)
        # A later update of the same value wins, as in Kargo.
        changes[start] = (end, new)
    out = text
    for start in sorted(changes, reverse=True):
        end, new = changes[start]
        out = out[:start] + new + out[end:]
    return out


def _content_indent(text: str, node: yaml.ScalarNode) -> int:
    # The indentation of the block's first content line, or two more than its parent key.
    following = text[node.start_mark.index :].split("\n")[1:]
    for line in following:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    line_start = text.rfind("\n", 0, node.start_mark.index) + 1
    own = text[line_start : node.start_mark.index]
    return len(own) - len(own.lstrip(" ")) + 2

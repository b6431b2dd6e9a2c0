"""Set values in JSON text in place, like tidwall/sjson as Kargo's ``json-update`` uses it.

Only the characters of the changed value are rewritten, so key order, indentation and
number formatting elsewhere stay as they were. A missing key is added after the last
member of its object (or at the end of its list), laid out like its siblings; a numeric
part where nothing exists yet makes a list, as sjson does (``:0`` forces an object key).
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.documents.key_paths import KeyPart, split_key

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class _Member:
    key: str | None  # None for list items
    key_start: int  # the item's start for list items
    key_end: int
    value_start: int
    value_end: int


def _skip(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _value_end(text: str, start: int) -> int:
    try:
        return _DECODER.raw_decode(text, start)[1]
    except json.JSONDecodeError as error:
        raise TerminalStepError(f"cannot parse JSON: {error}") from error


def _members(text: str, start: int) -> Iterator[_Member]:
    closing = "}" if text[start] == "{" else "]"
    index = _skip(text, start + 1)
    if text[index] == closing:
        return
    while True:
        key = None
        item_start = key_end = index
        if closing == "}":
            key, index = _DECODER.raw_decode(text, index)
            key_end = index
            index = _skip(text, index) + 1  # the colon
            index = _skip(text, index)
        end = _value_end(text, index)
        yield _Member(key, item_start, key_end, index, end)
        index = _skip(text, end)
        if text[index] == closing:
            return
        index = _skip(text, index + 1)


def _indent_unit(text: str) -> str:
    match = re.search(r"\n([ \t]+)\S", text)
    return match.group(1) if match else "  "


def _line_indent(text: str, index: int) -> str:
    line_start = text.rfind("\n", 0, index) + 1
    line = text[line_start:index]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _build(parts: list[KeyPart], value: Any) -> Any:
    if not parts:
        return value
    inner = _build(parts[1:], value)
    index = parts[0].index()
    if index is not None:
        return [None] * max(index, 0) + [inner]
    return {parts[0].text: inner}


def _render(value: Any, text: str, indent: str) -> str:
    if "\n" not in text:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    rendered = json.dumps(value, ensure_ascii=False, indent=_indent_unit(text))
    return rendered.replace("\n", "\n" + indent)


def _insert(text: str, start: int, end: int, parts: list[KeyPart], value: Any) -> str:
    """Add ``parts`` (missing from the container spanning ``start:end``) with ``value``."""
    is_object = text[start] == "{"
    members = list(_members(text, start))
    if is_object:
        new_value: Any = _build(parts[1:], value)
        pad = 0
    else:
        index = parts[0].index()
        if index is None:
            raise TerminalStepError(f"{parts[0].text!r} is not a list index")
        pad = max(index - len(members), 0)
        new_value = _build(parts[1:], value)
    if members:
        last = members[-1]
        separator = text[text.rfind(",", 0, last.key_start) + 1 : last.key_start]
        if len(members) == 1:
            separator = text[start + 1 : last.key_start]
        indent = _line_indent(text, last.key_start) if "\n" in separator else ""
        colon = text[last.key_end : last.value_start] if is_object else ": "
        at = last.value_end
    else:
        compact = "\n" not in text
        indent = "" if compact else _line_indent(text, start) + _indent_unit(text)
        separator = "" if compact else "\n" + indent
        colon = ":" if compact else ": "
        at = start + 1
    rendered = _render(new_value, text, indent)
    if is_object:
        item = f"{json.dumps(parts[0].text, ensure_ascii=False)}{colon}{rendered}"
        items = [item]
    else:
        items = ["null"] * pad + [rendered]
    joined = ("," + separator).join(items)
    if members:
        addition = "," + separator + joined
    else:
        closing_indent = "" if "\n" not in text else "\n" + _line_indent(text, start)
        addition = separator + joined + closing_indent
        # Drop whitespace between the brackets of the empty container.
        return text[:at] + addition + text[end - 1 :]
    return text[:at] + addition + text[at:]


def set_value(text: str, key: str, value: Any) -> str:
    """``text`` with the value at dotted ``key`` set to ``value``, creating what is missing.

    Raises:
        TerminalStepError: The text is not JSON, the key is malformed, or it passes through
            a scalar.
    """
    parts = split_key(key)
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise TerminalStepError(f"cannot parse JSON: {error}") from error
    start = _skip(text, 0)
    end = _value_end(text, start)
    for depth, part in enumerate(parts):
        if text[start] not in "{[":
            where = ".".join(p.text for p in parts[:depth])
            raise TerminalStepError(f"cannot set {key!r}: {where!r} holds a scalar")
        members = list(_members(text, start))
        found: _Member | None = None
        if text[start] == "{":
            found = next((m for m in members if m.key == part.text), None)
        else:
            index = part.index()
            if index is None:
                raise TerminalStepError(f"cannot set {key!r}: {part.text!r} is not a list index")
            if 0 <= index < len(members):
                found = members[index]
        if found is None:
            return _insert(text, start, end, parts[depth:], value)
        start, end = found.value_start, found.value_end
    return text[:start] + json.dumps(value, ensure_ascii=False) + text[end:]

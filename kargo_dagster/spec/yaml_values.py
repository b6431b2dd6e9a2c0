"""How YAML scalars become Python values, as ruamel.yaml's round-trip loader read them.

Manifests were first read with ruamel.yaml in round-trip mode (YAML 1.2 core schema, with
unquoted timestamps kept as text); they are now parsed with PyYAML's C parser, whose own
resolver follows YAML 1.1 (``yes`` would become ``True``). This module keeps ruamel's reading
of every scalar so that no manifest changes meaning:

* only ``true``/``false`` (``True``, ``TRUE``, ...) are booleans; ``yes``, ``on`` stay text;
* ``0o17`` is octal, ``017`` is seventeen, ``0x1F`` and ``0b101`` are hex and binary, and
  underscores are dropped from numbers (``1_000`` is 1000);
* ``.inf``, ``-.inf`` and ``.nan`` are floats; ``~``, ``null`` and nothing at all are null;
* timestamps stay text, as Kubernetes' YAML-to-JSON conversion keeps them.

A document that declares ``%YAML 1.1`` is read with the YAML 1.1 rules instead (``yes`` and
``on`` are booleans, ``017`` is octal, ``1:30`` is ninety), as ruamel.yaml did.
"""

import base64
import binascii
import math
import re
from typing import Any, TypeVar

__all__ = [
    "BINARY",
    "BOOL",
    "FLOAT",
    "INT",
    "MAP",
    "MERGE",
    "NULL",
    "OMAP",
    "PAIRS",
    "SCALAR_TAGS",
    "SEQ",
    "SET",
    "STR",
    "TIMESTAMP",
    "YAML_1_1",
    "YAML_1_2",
    "YAML_TYPE_PREFIX",
    "Version",
    "construct_scalar",
    "resolve_plain",
]

Version = tuple[int, int]
"""A ``%YAML`` directive's version."""

YAML_1_1: Version = (1, 1)
YAML_1_2: Version = (1, 2)

_Number = TypeVar("_Number", int, float)

_PREFIX = "tag:yaml.org,2002:"
STR = _PREFIX + "str"
INT = _PREFIX + "int"
FLOAT = _PREFIX + "float"
BOOL = _PREFIX + "bool"
NULL = _PREFIX + "null"
BINARY = _PREFIX + "binary"
MERGE = _PREFIX + "merge"
MAP = _PREFIX + "map"
SEQ = _PREFIX + "seq"
SET = _PREFIX + "set"
OMAP = _PREFIX + "omap"
PAIRS = _PREFIX + "pairs"
TIMESTAMP = _PREFIX + "timestamp"
YAML_TYPE_PREFIX = _PREFIX
"""What the ``!!`` shorthand stands for: YAML's own types (``!!int``) start with it."""

SCALAR_TAGS = frozenset({INT, FLOAT, BOOL, NULL, BINARY})
"""Tags whose value must be a scalar (a collection with one of them is an error)."""

# Each rule applies to plain scalars starting with one of its characters, in this order; the
# first full match decides. The languages are those of ruamel.yaml's resolver (a number may
# hold underscores anywhere after its first character).
_Rules = list[tuple[str, str, re.Pattern[str]]]

_RULES_1_2: _Rules = [
    ("tTfF", BOOL, re.compile(r"true|True|TRUE|false|False|FALSE")),
    (
        "-+0123456789.",
        FLOAT,
        re.compile(
            r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
            r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)"
            r"|\.(?:nan|NaN|NAN)"
        ),
    ),
    (
        "-+0123456789",
        INT,
        re.compile(r"[-+]?(?:0b[01_]+|0o[0-7_]+|[0-9_]+|0x[0-9a-fA-F_]+)"),
    ),
    ("<", MERGE, re.compile(r"<<")),
    ("~nN", NULL, re.compile(r"~|null|Null|NULL")),
]

_RULES_1_1: _Rules = [
    (
        "yYnNtTfFoO",
        BOOL,
        re.compile(
            r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
            r"|on|On|ON|off|Off|OFF"
        ),
    ),
    (
        "-+0123456789.",
        FLOAT,
        re.compile(
            r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
            r"|\.[0-9_]+(?:[eE][-+][0-9]+)?"
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
            r"|[-+]?\.(?:inf|Inf|INF)"
            r"|\.(?:nan|NaN|NAN)"
        ),
    ),
    (
        "-+0123456789",
        INT,
        re.compile(
            r"[-+]?(?:0b[01_]+|0?[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+"
            r"|[1-9][0-9_]*(?::[0-5]?[0-9])+)"
        ),
    ),
    ("<", MERGE, re.compile(r"<<")),
    ("~nN", NULL, re.compile(r"~|null|Null|NULL")),
]


def _by_first_character(rules: _Rules) -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    table: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for characters, tag, pattern in rules:
        for character in characters:
            table.setdefault(character, []).append((tag, pattern))
    return table


_TABLES = {YAML_1_2: _by_first_character(_RULES_1_2), YAML_1_1: _by_first_character(_RULES_1_1)}

# Explicit !!bool accepts the YAML 1.1 words in either version, as ruamel.yaml did.
_BOOLS = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "on": True,
    "off": False,
}


def resolve_plain(value: str, version: Version) -> str:
    """The tag of an untagged plain scalar.

    Args:
        value: The scalar's text.
        version: The document's YAML version.

    Returns:
        One of :data:`BOOL`, :data:`FLOAT`, :data:`INT`, :data:`MERGE`, :data:`NULL` or
        :data:`STR`.
    """
    if not value:
        return NULL
    table = _TABLES[YAML_1_1 if version == YAML_1_1 else YAML_1_2]
    for tag, pattern in table.get(value[0], ()):
        if pattern.fullmatch(value):
            return tag
    return STR


def construct_scalar(tag: str, value: str, version: Version) -> Any:
    """The Python value of a scalar whose tag is known.

    Args:
        tag: The resolved or explicit tag; tags without a meaning of their own (timestamps,
            ``!custom`` tags) keep the text.
        value: The scalar's text.
        version: The document's YAML version.

    Returns:
        ``str``, ``int``, ``float``, ``bool``, ``None`` or ``bytes`` (``!!binary``).

    Raises:
        ValueError: The text cannot be read as its tag says (``!!int abc``); the message
            says why.
    """
    if tag == STR:
        return value
    if tag == NULL:
        return None
    if tag == BOOL:
        try:
            return _BOOLS[value.lower()]
        except KeyError:
            raise ValueError(f"cannot read {value!r} as a boolean") from None
    if tag == INT:
        return _integer(value, version)
    if tag == FLOAT:
        return _float(value, version)
    if tag == BINARY:
        return _binary(value)
    return value


def _signed(text: str) -> tuple[int, str]:
    if text[:1] in ("-", "+"):
        return (-1 if text[0] == "-" else 1), text[1:]
    return 1, text


def _integer(value: str, version: Version) -> int:
    sign, digits = _signed(value.replace("_", ""))
    try:
        for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
            if digits.startswith(prefix):
                return sign * int(digits[2:], base)
        if version != YAML_1_2 and len(digits) > 1 and digits[0] == "0":
            return sign * int(digits, 8)
        if version != YAML_1_2 and ":" in digits:
            return sign * _sexagesimal([int(part) for part in digits.split(":")])
        return sign * int(digits)
    except ValueError:
        raise ValueError(f"cannot read {value!r} as an integer") from None


def _float(value: str, version: Version) -> float:
    sign, digits = _signed(value.replace("_", "").lower())
    if digits == ".inf":
        return sign * math.inf
    if digits == ".nan":
        return math.nan
    try:
        if version != YAML_1_2 and ":" in digits:
            return sign * _sexagesimal([float(part) for part in digits.split(":")])
        return sign * float(digits)
    except ValueError:
        raise ValueError(f"cannot read {value!r} as a float") from None


def _sexagesimal(parts: list[_Number]) -> _Number:
    # 1:30:00 is 5400: each part counts sixty times the next one. Summed from the last part,
    # as ruamel.yaml did, so that floats round the same way.
    total = parts[0] * 0
    base = 1
    for part in reversed(parts):
        total += part * base
        base *= 60
    return total


def _binary(value: str) -> bytes:
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError(f"failed to convert base64 data into ascii: {exc}") from None
    try:
        return base64.decodebytes(data)
    except binascii.Error as exc:
        raise ValueError(f"failed to decode base64 data: {exc}") from None

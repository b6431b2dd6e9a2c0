"""Set scalar values in TOML text with tomlkit, keeping comments, order and layout.

As in Kargo's ``toml-update``, every key path must already exist and address a scalar
(string, number, boolean, date/time); tables and arrays are refused. Strings keep the old
value's quoting (``'literal'`` or ``"basic"``) when they can; otherwise they are written as
go-toml writes them: literal unless the text holds a quote or a control character.
"""

from typing import Any

import tomlkit
import tomlkit.exceptions
import tomlkit.items

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.documents.key_paths import split_key


def _literal_ok(text: str) -> bool:
    return "'" not in text and all(c == "\t" or (c >= " " and c != "\x7f") for c in text)


def format_value(value: Any, *, literal: bool | None = None) -> str:
    """``value`` as TOML value text (go-toml's choices unless ``literal`` says otherwise).

    Raises:
        TerminalStepError: The value is not a TOML scalar.
    """
    return tomlkit.items.item(_item(value, literal)).as_string()


def _item(value: Any, literal: bool | None) -> Any:
    if isinstance(value, str):
        use_literal = _literal_ok(value) if literal is None else literal and _literal_ok(value)
        return tomlkit.string(value, literal=use_literal)
    if isinstance(value, bool | int | float):
        return value
    raise TerminalStepError(f"value {value!r} is not a TOML scalar")


def set_values(text: str, updates: list[tuple[str, Any]]) -> str:
    """Apply ``(key, value)`` updates to TOML ``text``.

    Raises:
        TerminalStepError: The text is not TOML; a key is malformed, missing, or addresses
            a table or array; a value is not a scalar.
    """
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as error:
        raise TerminalStepError(f"cannot parse TOML: {error}") from error
    for key, value in updates:
        parts = split_key(key)
        container: Any = document
        for depth, part in enumerate(parts):
            where = ".".join(p.text for p in parts[: depth + 1])
            if isinstance(container, list):
                index = part.index()
                if index is None or not 0 <= index < len(container):
                    raise TerminalStepError(f"key {key!r} not found (no {where!r})")
                selector: Any = index
            elif isinstance(container, dict) and part.text in container:
                selector = part.text
            else:
                raise TerminalStepError(f"key {key!r} not found (no {where!r})")
            if depth == len(parts) - 1:
                old = container[selector]
                if isinstance(old, dict | list):
                    raise TerminalStepError(f"key {key!r} addresses a table or array")
                literal = None
                if isinstance(old, tomlkit.items.String):
                    literal = old.type == tomlkit.items.StringType.SLL
                container[selector] = _item(value, literal)
            else:
                container = container[selector]
    return tomlkit.dumps(document)

"""Go ``text/template`` with Sprig functions, in the subset deep links are written in.

Kargo renders a ProjectConfig's ``freightLinks`` and ``stageLinks`` URLs with Go's
``text/template`` and the Sprig function map, against ``{"freight": <Freight>}`` or
``{"stage": <Stage>}``. A link is a URL with a few fields in it, so this module renders
actions made of a pipeline of commands (``{{ .stage.metadata.name | lower }}``,
``{{ index .freight.metadata.labels "team" }}``, ``{{ (index .freight.images 0).tag }}``)
with the trim markers and comments. Control structures (``if``, ``range``, ``with``, ...)
and variables are refused when the template is parsed, naming what is not supported, so
``validate`` reports them rather than a link rendering wrongly.

Rendering follows Go: a missing map key prints ``<no value>``, reading a field of nothing is
an error, and values print as ``fmt``'s ``%v`` does.
"""

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.gojson import go_sprint

__all__ = ["GO_TEMPLATE_FUNCTIONS", "parse_go_template", "render_go_template"]

_NO_VALUE = "<no value>"
_KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<field>\.(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?)
      | (?P<pipe>\|)
      | (?P<name>[A-Za-z_]\w*)
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Operand:
    """A field path read from the data or from a parenthesised pipeline, or a literal.

    ``path`` is None for a literal; ``()`` is ``.`` itself.
    """

    path: tuple[str, ...] | None
    literal: Any = None
    pipeline: "tuple[_Command, ...] | None" = None


@dataclass(frozen=True)
class _Command:
    """A function and its arguments, or a single operand (``function`` empty)."""

    function: str
    arguments: tuple[_Operand, ...]


@dataclass(frozen=True)
class GoTemplate:
    """A parsed template: text and pipelines, in order."""

    text: str
    parts: tuple[str | tuple[_Command, ...], ...]


def parse_go_template(text: str) -> GoTemplate:
    """Parse ``text``.

    Raises:
        ExpressionError: The template is malformed or uses what is not supported here.
    """
    parts: list[str | tuple[_Command, ...]] = []
    position = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            parts.append(text[position:])
            break
        end = text.find("}}", start + 2)
        if end < 0:
            raise ExpressionError("unclosed action: '{{' without '}}'", expression=text)
        literal = text[position:start]
        action = text[start + 2 : end]
        if action.startswith("- "):
            literal = literal.rstrip()
            action = action[2:]
        position = end + 2
        if action.endswith(" -"):
            action = action[:-2]
            position = len(text) - len(text[position:].lstrip())
        parts.append(literal)
        stripped = action.strip()
        if stripped.startswith("/*") and stripped.endswith("*/"):
            continue
        if not stripped:
            raise ExpressionError("empty action '{{ }}'", expression=text)
        parts.append(_Parser(stripped, text).action())
    return GoTemplate(text, tuple(part for part in parts if part != ""))


def render_go_template(template: str | GoTemplate, data: Mapping[str, Any]) -> str:
    """Render ``template`` against ``data``, as Go's ``text/template`` would.

    Raises:
        ExpressionError: The template does not parse or an action fails (a field read from
            nothing, a function given arguments it cannot take).
    """
    parsed = parse_go_template(template) if isinstance(template, str) else template
    out: list[str] = []
    for part in parsed.parts:
        if isinstance(part, str):
            out.append(part)
        else:
            out.append(_print(_pipeline(part, data, parsed.text)))
    return "".join(out)


class _Parser:
    """Recursive descent over one action's tokens."""

    def __init__(self, action: str, text: str) -> None:
        self._text = text
        # (kind, word, whether whitespace came before it)
        self._tokens: list[tuple[str, str, bool]] = []
        end = 0
        for match in _TOKEN.finditer(action):
            kind = match.lastgroup or "other"
            word = match.group(kind)
            self._tokens.append((kind, word, action[end : match.start(kind)] != ""))
            end = match.end()
        self._next = 0

    def action(self) -> tuple[_Command, ...]:
        pipeline = self._pipeline()
        if self._next < len(self._tokens):
            raise self._error(f"unexpected {self._tokens[self._next][1]!r}")
        return pipeline

    def _pipeline(self) -> tuple[_Command, ...]:
        commands = [self._command()]
        while self._peek() == ("pipe", "|"):
            self._next += 1
            commands.append(self._command())
        return tuple(commands)

    def _command(self) -> _Command:
        head = self._peek()
        if head is None or head[0] == "pipe" or head == ("other", ")"):
            raise self._error("empty command in a pipeline")
        kind, word = head
        if kind == "name" and word not in ("true", "false", "nil"):
            self._next += 1
            if word in _KEYWORDS:
                raise self._error(
                    f"'{word}' is not supported in link templates: put conditions in the "
                    "link's 'if' expression"
                )
            if word not in GO_TEMPLATE_FUNCTIONS:
                known = ", ".join(sorted(GO_TEMPLATE_FUNCTIONS))
                raise self._error(
                    f"function {word!r} is not supported in link templates (supported: {known})"
                )
            arguments: list[_Operand] = []
            while (
                (token := self._peek()) is not None
                and token[0] != "pipe"
                and token
                != (
                    "other",
                    ")",
                )
            ):
                arguments.append(self._operand())
            return _Command(word, tuple(arguments))
        operand = self._operand()
        token = self._peek()
        if token is not None and token[0] != "pipe" and token != ("other", ")"):
            raise self._error(f"{word} is not a function")
        return _Command("", (operand,))

    def _operand(self) -> _Operand:
        kind, word, _ = self._tokens[self._next]
        self._next += 1
        if kind == "other" and word == "(":
            pipeline = self._pipeline()
            if self._peek() != ("other", ")"):
                raise self._error("unclosed parenthesis")
            self._next += 1
            path: tuple[str, ...] = ()
            following = self._tokens[self._next] if self._next < len(self._tokens) else None
            if following is not None and following[0] == "field" and not following[2]:
                # (index .images 0).tag: a field chain right after the parenthesis.
                self._next += 1
                path = _field_path(following[1])
            return _Operand(path, pipeline=pipeline)
        if kind == "field":
            return _Operand(_field_path(word))
        if kind == "string":
            return _Operand(None, json.loads(word))
        if kind == "raw":
            return _Operand(None, word[1:-1])
        if kind == "number":
            return _Operand(None, float(word) if "." in word else int(word))
        if word in ("true", "false", "nil"):
            return _Operand(None, None if word == "nil" else word == "true")
        if kind == "other":
            what = "variables are" if word == "$" else f"{word!r} is"
            raise self._error(f"{what} not supported in link templates")
        raise self._error(f"{word!r} needs parentheses to be an argument: ({word} ...)")

    def _peek(self) -> tuple[str, str] | None:
        if self._next >= len(self._tokens):
            return None
        kind, word, _ = self._tokens[self._next]
        return kind, word

    def _error(self, message: str) -> ExpressionError:
        return ExpressionError(message, expression=self._text)


def _field_path(word: str) -> tuple[str, ...]:
    return tuple(word.split(".")[1:]) if word != "." else ()


_MISSING = object()


def _pipeline(pipeline: Sequence[_Command], data: Mapping[str, Any], text: str) -> Any:
    value: Any = None
    for index, command in enumerate(pipeline):
        value = _run(command, data, value, piped=index > 0, text=text)
    return value


def _run(
    command: _Command, data: Mapping[str, Any], piped_value: Any, *, piped: bool, text: str
) -> Any:
    arguments = [_value(operand, data, text) for operand in command.arguments]
    if not command.function:
        if piped:
            raise ExpressionError("only a function can follow '|'", expression=text)
        return arguments[0]
    if piped:
        arguments.append(piped_value)
    function = GO_TEMPLATE_FUNCTIONS[command.function]
    try:
        return function(*arguments)
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise ExpressionError(
            f"{command.function}: {error}" if str(error) else f"{command.function} failed",
            expression=text,
        ) from None


def _value(operand: _Operand, data: Mapping[str, Any], text: str) -> Any:
    if operand.path is None:
        return operand.literal
    value: Any = data if operand.pipeline is None else _pipeline(operand.pipeline, data, text)
    for depth, name in enumerate(operand.path):
        if isinstance(value, Mapping):
            value = value.get(name, _MISSING)
            if value is _MISSING:
                # Go prints a missing map key as <no value>, but cannot read on from it.
                if depth == len(operand.path) - 1:
                    return None
                value = None
            continue
        shown = ".".join(operand.path[:depth])
        raise ExpressionError(
            f"nothing to read .{name} from: .{shown} is {_print(value)}", expression=text
        )
    return value


def _print(value: Any) -> str:
    # A missing key or a nil value prints as <no value> in a template, unlike fmt's <nil>.
    return _NO_VALUE if value is None else go_sprint(value)


def _text(value: Any) -> str:
    return "" if value is None else _print(value)


def _index(collection: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(collection, Mapping):
            collection = collection.get(key)
        elif isinstance(collection, list) and isinstance(key, int):
            collection = collection[key]
        else:
            raise TypeError(f"cannot index {_print(collection)} with {_print(key)}")
    return collection


_VERB = re.compile(r"%([%svdq])")


def _printf(layout: str, *values: Any) -> str:
    remaining = list(values)

    def verb(match: re.Match[str]) -> str:
        letter = match.group(1)
        if letter == "%":
            return "%"
        if not remaining:
            return f"%!{letter}(MISSING)"
        value = remaining.pop(0)
        return json.dumps(_text(value)) if letter == "q" else _text(value)

    return _VERB.sub(verb, layout)


def _default(fallback: Any, given: Any = None) -> Any:
    # Sprig: an empty value (nil, "", 0, false, empty collection) takes the default.
    return given if given else fallback


def _trunc(length: int, text: Any) -> str:
    value = _text(text)
    return value[:length] if length >= 0 else value[length:]


def _substr(start: int, end: int, text: Any) -> str:
    value = _text(text)
    return value[start:end] if end >= 0 else value[start:]


GO_TEMPLATE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Go's built-ins.
    "index": _index,
    "len": len,
    "print": lambda *values: "".join(_text(v) for v in values),
    "printf": _printf,
    "urlquery": lambda *values: quote_plus("".join(_text(v) for v in values)),
    # Sprig's string functions.
    "b64enc": lambda text: base64.b64encode(_text(text).encode()).decode(),
    "default": _default,
    "join": lambda separator, items: separator.join(_text(i) for i in items or ()),
    "lower": lambda text: _text(text).lower(),
    "quote": lambda *values: " ".join(json.dumps(_text(v)) for v in values),
    "replace": lambda old, new, text: _text(text).replace(old, new),
    "squote": lambda *values: " ".join(f"'{_text(v)}'" for v in values),
    "substr": _substr,
    "trim": lambda text: _text(text).strip(),
    "trimPrefix": lambda prefix, text: _text(text).removeprefix(prefix),
    "trimSuffix": lambda suffix, text: _text(text).removesuffix(suffix),
    "trunc": _trunc,
    "upper": lambda text: _text(text).upper(),
}

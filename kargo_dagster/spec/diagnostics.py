"""Turns pydantic validation errors into ``file:line`` problems that say what to write.

Pydantic reports ``loc`` tuples in the YAML's own (camelCase) keys, because models are
validated by alias; the document's line index then gives the line of the field, or of its
nearest parent when the field is missing.
"""

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.spec.base import RULE_ERROR_TYPE
from kargo_dagster.spec.locations import Document, FieldPath
from kargo_dagster.spec.removed import REMOVED_FIELDS

__all__ = ["did_you_mean", "validation_problems"]


def did_you_mean(word: str, known: typing.Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix, or ``""`` when nothing known is close."""
    known = list(known)
    # Case and separator slips (repoUrl, repo_url for repoURL) score low on difflib's ratio.
    close = [k for k in known if _folded(k) == _folded(word)]
    if not close:
        close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _folded(word: str) -> str:
    return word.replace("_", "").replace("-", "").lower()


def validation_problems(
    error: ValidationError, model: type[BaseModel], document: Document, kind: str, name: str
) -> list[ManifestProblem]:
    """One problem per pydantic error, located in ``document``.

    Args:
        error: The error raised by ``model.model_validate``.
        model: The top-level model that was validated.
        document: The YAML document that was validated.
        kind: The object's kind, for the message.
        name: The object's name (``""`` when unknown).

    Returns:
        The problems, in pydantic's order.
    """
    problems: list[ManifestProblem] = []
    details = error.errors(include_url=False)
    unknown = [tuple(d["loc"]) for d in details if d["type"] == "extra_forbidden"]
    for detail in details:
        loc: FieldPath = tuple(detail["loc"])
        if detail["type"] == "missing" and _misspelt(loc, unknown):
            # "repoUrl: unknown field; did you mean repoURL?" already says it all.
            continue
        message, loc = _message(detail, loc, model)
        problems.append(
            ManifestProblem(
                file=document.file,
                line=document.line_of(loc),
                kind=kind,
                name=name,
                field=".".join(str(part) for part in loc),
                message=message,
            )
        )
    return problems


def _misspelt(missing: FieldPath, unknown: list[FieldPath]) -> bool:
    return any(
        extra[:-1] == missing[:-1] and did_you_mean(str(extra[-1]), [str(missing[-1])])
        for extra in unknown
    )


def _message(detail: ErrorDetails, loc: FieldPath, model: type[BaseModel]) -> tuple[str, FieldPath]:
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    value = detail.get("input")
    if kind == RULE_ERROR_TYPE:
        extra = tuple(
            int(p) if p.isdigit() else p for p in str(ctx.get("field", "")).split(".") if p
        )
        return str(ctx["message"]), (*loc, *extra)
    if kind == "missing":
        return "is required; add it", loc
    if kind == "extra_forbidden":
        return _unknown_field(loc, model), loc
    if kind == "string_type" and isinstance(value, bool | int | float):
        shown = _yaml_scalar(value)
        return (
            f"must be a string, but YAML read {shown} as a {type(value).__name__}; "
            f'quote it: "{shown}"',
            loc,
        )
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(str(value), options) if isinstance(value, str) else ""
        return f"must be one of {', '.join(options)} (got {value!r}){hint}", loc
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match the required pattern {ctx.get('pattern')}", loc
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping of fields (got {_describe(value)})", loc
    if kind == "list_type":
        return f"must be a list (write each entry on a '- ' line; got {_describe(value)})", loc
    text = detail["msg"]
    text = text.replace("Input should be", "must be").replace("Value error, ", "")
    if isinstance(value, str | int | float | bool):
        text = f"{text} (got {value!r})"
    return text, loc


def _unknown_field(loc: FieldPath, model: type[BaseModel]) -> str:
    key = str(loc[-1])
    owner = _model_at(model, loc[:-1])
    if owner is not None:
        removed = REMOVED_FIELDS.get((owner, key))
        if removed is not None:
            return removed
        known = [_wire_name(name, field) for name, field in owner.model_fields.items()]
        hint = did_you_mean(key, known)
        if hint:
            return f"unknown field {key!r}{hint}"
        return f"unknown field {key!r}; known fields here: {', '.join(sorted(known))}"
    return f"unknown field {key!r}; remove it"


def _model_at(model: type[BaseModel], path: FieldPath) -> type[BaseModel] | None:
    current: Any = model
    for part in path:
        current = _strip_optional(current)
        origin = typing.get_origin(current)
        if isinstance(part, int):
            if origin is not list:
                return None
            current = typing.get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            fields = {_wire_name(n, f): f for n, f in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        elif origin is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _strip_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _wire_name(name: str, field: FieldInfo) -> str:
    # Explicit spellings (repoURL, as, if) are validation aliases; the rest come from the
    # camelCase alias generator.
    if isinstance(field.validation_alias, str):
        return field.validation_alias
    return field.alias or name


def _strip_optional(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _yaml_scalar(value: bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(value: Any) -> str:
    if isinstance(value, str | int | float | bool) or value is None:
        return repr(value)
    return type(value).__name__

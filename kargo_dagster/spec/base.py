"""The pydantic base shared by every Kargo model, and where an object came from.

Models mirror Kargo's JSON field names through camelCase aliases (Kargo's, with initialisms
kept: ``repoURL``) while Python code uses snake_case attributes. They are frozen, so a
loaded Catalog cannot drift from the files, and forbid unknown keys, because Kargo's API
server rejects them too (and a typo would otherwise silently fall back to a default).
"""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr
from pydantic_core import PydanticCustomError

from kargo_dagster.json_names import kargo_json_name

__all__ = [
    "DNS1123_SUBDOMAIN",
    "KargoModel",
    "KargoObject",
    "SourceLocation",
    "rule_error",
]

# Kubernetes object names (RFC 1123 subdomains), as the CRDs spell the pattern.
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

# The pydantic error type used for Kargo's own rules; the loader reads ``ctx["field"]``.
RULE_ERROR_TYPE = "kargo_rule"


def rule_error(message: str, field: str = "") -> PydanticCustomError:
    """Builds the pydantic error a model validator raises for a broken Kargo rule.

    Args:
        message: What is wrong and what to write instead.
        field: Dotted camelCase path below the model being validated (``sources.stages``),
            so the loader can point at the offending line rather than at the whole object.

    Returns:
        An error to ``raise`` from a pydantic validator.
    """
    return PydanticCustomError(RULE_ERROR_TYPE, "{message}", {"message": message, "field": field})


@dataclass(frozen=True)
class SourceLocation:
    """Where a manifest document starts.

    Attributes:
        file: The file, as given to the loader.
        line: 1-based line of the document's first key.
    """

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


UNKNOWN_SOURCE = SourceLocation(file="<memory>", line=0)


class KargoModel(BaseModel):
    """Base of every Kargo model: frozen, strict about keys, camelCase on the wire."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=kargo_json_name,
    )


class KargoObject(KargoModel):
    """A top-level manifest (it has ``apiVersion``, ``kind`` and ``metadata``).

    The loader passes ``context={"source": SourceLocation, "lines": {path: line}}`` to
    ``model_validate``, so each object knows its file and the line of each of its fields.
    """

    _source: SourceLocation = PrivateAttr(default=UNKNOWN_SOURCE)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Keeps the location the loader passed in the validation context."""
        if isinstance(context, dict):
            source = context.get("source")
            if isinstance(source, SourceLocation):
                self._source = source
            lines = context.get("lines")
            if isinstance(lines, dict):
                self._lines = lines

    @property
    def source(self) -> SourceLocation:
        """The file and line this object was loaded from (``<memory>:0`` if built in code)."""
        return self._source

    def line_of(self, field: str | tuple[str | int, ...]) -> int:
        """The line of a field, or of its nearest parent present in the YAML.

        Args:
            field: A dotted camelCase path (``spec.requestedFreight.0.origin``) or its tuple.

        Returns:
            A 1-based line; the document's line when nothing on the path was found.
        """
        path = _split_path(field) if isinstance(field, str) else field
        while path:
            line = self._lines.get(path)
            if line is not None:
                return line
            path = path[:-1]
        return self._source.line


def _split_path(field: str) -> tuple[str | int, ...]:
    return tuple(int(part) if part.isdigit() else part for part in field.split(".") if part)

"""Field types for step configurations that accept what Kargo's schemas accept, no more.

Each stands for a JSON Schema keyword pydantic has no direct spelling of (``format``, an
``integer`` that may be written ``2.0``) or a constraint several steps' schemas repeat (Go
durations), so that a step's ``Config`` refuses exactly what its schema refuses.
"""

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from kargo_dagster.promotion.schema_validation import is_uri

__all__ = ["Duration", "Email", "Integer", "NonEmpty", "OciReference", "OciTagReference", "Uri"]


def _integer(value: Any) -> Any:
    # JSON Schema's "integer" is any number with no fraction: 2.0 is one, True is not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _uri(value: str) -> str:
    if not is_uri(value):
        raise ValueError("must be a URI with a scheme")
    return value


def _email(value: str) -> str:
    # The ``email`` format as the schema validator checks it.
    if "@" not in value:
        raise ValueError("must be an email address")
    return value


# A JSON integer; ``Field(ge=..., le=...)`` bounds it as ``minimum``/``maximum`` do.
Integer = Annotated[int, BeforeValidator(_integer)]

# A string of at least one character (``"minLength": 1``), as in ``list[NonEmpty]``.
NonEmpty = Annotated[str, Field(min_length=1)]

# A Go duration (``90s``, ``1m30s``) as far as Kargo's schemas check one: unanchored, so
# any string holding a number followed by a unit passes, as it does in Kargo.
Duration = Annotated[str, Field(pattern=r"(?:\d+(ns|us|µs|ms|s|m|h))+")]

# The ``uri`` format: a URL with a scheme.
Uri = Annotated[str, AfterValidator(_uri)]

# The ``email`` format.
Email = Annotated[str, AfterValidator(_email)]

# An OCI artifact by tag or digest (``[oci://]host[:port]/repo:tag`` or ``...@sha256:...``).
OciReference = Annotated[
    str,
    Field(
        min_length=1,
        pattern=r"^(oci://)?[a-zA-Z0-9._-]+(:\d+)?(/[a-zA-Z0-9._-]+)*[@:][a-zA-Z0-9._:-]+$",
    ),
]

# An OCI artifact by tag only: where an artifact is pushed to.
OciTagReference = Annotated[
    str,
    Field(
        min_length=1,
        pattern=r"^(oci://)?[a-zA-Z0-9._-]+(:\d+)?(/[a-zA-Z0-9._-]+)*[:][a-zA-Z0-9._-]+$",
    ),
]

"""The Go type names expr prints for values, in its error messages and ``type()``."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kargo_dagster.expressions.objects import GoStruct

__all__ = ["go_type"]


def go_type(value: Any) -> str:
    """The Go type name expr would print for a value (``int``, ``time.Time``, ...)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, datetime):
        return "time.Time"
    if isinstance(value, GoStruct):
        return value.go_type_name()
    return type(value).__name__

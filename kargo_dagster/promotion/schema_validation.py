"""Step configurations checked against Kargo's own JSON schemas, before a step runs.

The schemas are Kargo v1.11.2's, shipped in ``kargo_dagster/promotion/schemas/``. Kargo
validates with ``gojsonschema``; this module uses ``jsonschema``'s Draft 2020-12 validator,
so the paths match Kargo's (``updates.0.key``, ``(root)`` for the whole config) while the
wording of each message is ``jsonschema``'s. Formats are checked as ``gojsonschema`` does
by default: ``uri`` needs a scheme, ``email`` an ``@``.
"""

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.redaction import redact_text

__all__ = [
    "config_schema_file",
    "has_schema",
    "is_uri",
    "read_schema",
    "schema_errors",
    "validate_step_config",
]

# Files holding definitions that step schemas reference, not steps themselves.
_SHARED = ("common.json", "argocd-common.json")


def config_schema_file(step_name: str) -> str:
    """The name of the file holding Kargo's config schema for ``step_name``."""
    return f"{step_name}-config.json"


@functools.cache
def read_schema(file_name: str) -> Any:
    """The schema in ``file_name`` of the shipped schemas, parsed once; do not modify it."""
    text = resources.files("kargo_dagster.promotion").joinpath("schemas", file_name).read_text()
    return json.loads(text)


def has_schema(step_name: str) -> bool:
    """Whether Kargo ships a configuration schema for ``step_name``."""
    if "/" in step_name or step_name in ("common", "argocd-common"):
        return False
    schemas = resources.files("kargo_dagster.promotion").joinpath("schemas")
    return schemas.joinpath(config_schema_file(step_name)).is_file()


@functools.cache
def _registry() -> Registry:
    # The schemas have no $id, so a relative "$ref": "argocd-common.json#/..." resolves to
    # the bare file name: register the shared files under exactly that name.
    registry: Registry = Registry()
    for name in _SHARED:
        resource = Resource.from_contents(read_schema(name), default_specification=DRAFT202012)
        registry = registry.with_resource(name, resource)
    return registry


def is_uri(text: str) -> bool:
    """Whether ``text`` is a ``uri`` as ``gojsonschema`` checks the format."""
    # gojsonschema: Go's url.Parse must accept it, with a scheme, and no backslash.
    try:
        return bool(urlsplit(text).scheme) and "\\" not in text
    except ValueError:
        return False


def _format_checker() -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("uri")
    def _is_uri(instance: object) -> bool:
        return not isinstance(instance, str) or is_uri(instance)

    return checker


@functools.cache
def _validator(step_name: str) -> Draft202012Validator:
    schema = read_schema(config_schema_file(step_name))
    return Draft202012Validator(schema, registry=_registry(), format_checker=_format_checker())


def _dotted(error: ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    return path or "(root)"


def schema_errors(step_name: str, config: Mapping[str, Any]) -> list[str]:
    """Every schema violation of ``config``, as ``"<dotted.path>: <message>"``, sorted.

    Args:
        step_name: The step kind (``yaml-update``); it must have a schema (:func:`has_schema`).
        config: The evaluated configuration.

    Returns:
        Messages sorted by path, then text; empty when the configuration is valid. Values
        quoted in messages have credentials in URLs masked.

    Raises:
        TerminalStepError: There is no schema for ``step_name``.
    """
    if not has_schema(step_name):
        raise TerminalStepError(f"no configuration schema for step kind {step_name!r}")
    errors = _validator(step_name).iter_errors(dict(config))
    found = sorted((_dotted(e), redact_text(e.message)) for e in errors)
    return [f"{path}: {message}" for path, message in found]


def validate_step_config(step_name: str, config: Mapping[str, Any]) -> None:
    """Refuse a configuration Kargo's schema for ``step_name`` would refuse.

    Args:
        step_name: The step kind (``yaml-update``).
        config: The evaluated configuration.

    Raises:
        TerminalStepError: ``invalid <step> config: <path>: <message>; ...`` listing every
            violation sorted by path, or there is no schema for ``step_name``.

    Examples:
        >>> validate_step_config("yaml-update", {"path": "values.yaml", "updates": []})
        Traceback (most recent call last):
        ...
        kargo_dagster.errors.TerminalStepError: invalid yaml-update config: updates: [] \
should be non-empty
    """
    errors = schema_errors(step_name, config)
    if errors:
        raise TerminalStepError(f"invalid {step_name} config: {'; '.join(errors)}")

"""CustomResourceDefinitions and the schema checks an API server applies to custom resources.

A :class:`CustomResourceType` is read from a CRD manifest (``apiextensions.k8s.io/v1``).
Before storing a custom resource, the Kubernetes API server, in this order:

1. prunes fields its structural schema does not declare (unless a node says
   ``x-kubernetes-preserve-unknown-fields: true``), reporting each as a warning
   (``unknown field "spec.foo"``), and drops ``null`` values of fields that are not
   ``nullable``;
2. fills in ``default`` values of absent fields;
3. validates the result against the OpenAPI v3 schema; every violation becomes a
   :class:`FieldError` with the field path, reason and message the real server reports
   (``spec.destination: Required value``).

:func:`bundled_crds` loads the CRDs shipped in ``kargo_dagster/testing/crds/`` (Argo CD's
Application, Argo Rollouts' AnalysisRun, AnalysisTemplate and ClusterAnalysisTemplate; see
the README there for versions and licences).

The validation runs ``jsonschema``'s Draft 4 validator, whose keywords are those OpenAPI v3
schemas use; ``nullable`` and the ``date-time`` format are added, and the ``x-kubernetes-*``
extensions other than ``preserve-unknown-fields`` are ignored (``int-or-string`` is
expressed by the ``anyOf`` that accompanies it). Not reproduced: list-type uniqueness
(``x-kubernetes-list-type: set|map``), CEL rules (``x-kubernetes-validations``), and the
metadata checks of embedded resources.
"""

import copy
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.validators
import yaml

__all__ = ["CRD_DIRECTORY", "CustomResourceType", "FieldError", "bundled_crds", "format_value"]

CRD_DIRECTORY = Path(__file__).parent / "crds"

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_JSON_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "object",
    list: "array",
    type(None): "null",
}


@dataclass(frozen=True)
class FieldError:
    """One invalid field, as the API server reports it in ``Status.details.causes``.

    Attributes:
        field: The field path (``spec.sources[0].repoURL``).
        reason: ``FieldValueRequired``, ``FieldValueInvalid``, ``FieldValueTypeInvalid``,
            ``FieldValueNotSupported``...
        message: The message after the field (``Required value``).
    """

    field: str
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def format_value(value: Any) -> str:
    """A value as Kubernetes field errors quote it (strings in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(json.dumps(value, sort_keys=True))


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _nullable_type(
    validator: Any, types: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if instance is None and schema.get("nullable") is True:
        return
    yield from jsonschema.Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


def _kube_format(
    validator: Any, format_name: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    # The API server checks date-time strings; int32/int64 are numeric hints only.
    if format_name == "date-time" and isinstance(instance, str) and not _RFC3339.match(instance):
        yield jsonschema.ValidationError(f"{instance!r} is not a date-time")


_OpenAPIValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator, {"type": _nullable_type, "format": _kube_format}
)


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _field_errors(error: jsonschema.ValidationError) -> list[FieldError]:
    path = _path(error.absolute_path)
    instance = error.instance
    keyword = error.validator
    wanted: Any = error.validator_value
    if keyword == "required" and isinstance(instance, Mapping):
        required = wanted if isinstance(wanted, list) else []
        return [
            FieldError(
                f"{path}.{name}" if path else str(name), "FieldValueRequired", "Required value"
            )
            for name in required
            if name not in instance
        ]
    if keyword == "type":
        expected = wanted if isinstance(wanted, str) else " or ".join(map(str, wanted))
        actual = _json_type(instance)
        return [
            FieldError(
                path,
                "FieldValueTypeInvalid",
                f'Invalid value: "{actual}": {path or "body"} in body must be of type '
                f'{expected}: "{actual}"',
            )
        ]
    if keyword == "enum":
        supported = ", ".join(format_value(value) for value in wanted)
        return [
            FieldError(
                path,
                "FieldValueNotSupported",
                f"Unsupported value: {format_value(instance)}: supported values: {supported}",
            )
        ]
    if keyword == "pattern":
        message = f"{path} in body should match '{error.validator_value}'"
    elif keyword == "format":
        message = (
            f"{path} in body must be of type {error.validator_value}: {format_value(instance)}"
        )
    else:
        message = f"{path or 'body'}: {error.message}"
    return [
        FieldError(path, "FieldValueInvalid", f"Invalid value: {format_value(instance)}: {message}")
    ]


@dataclass(frozen=True)
class CustomResourceType:
    """One served version of a CustomResourceDefinition.

    Attributes:
        group: The API group (``argoproj.io``).
        version: The served version (``v1alpha1``).
        kind: The kind (``Application``).
        plural: The resource name in URLs (``applications``).
        list_kind: The kind of lists (``ApplicationList``).
        namespaced: ``scope: Namespaced`` (False for cluster-scoped kinds).
        status_subresource: Whether the version declares ``subresources.status``; without it
            ``status`` is an ordinary part of the object.
        schema: The version's ``openAPIV3Schema``.
    """

    group: str
    version: str
    kind: str
    plural: str
    list_kind: str
    namespaced: bool
    status_subresource: bool
    schema: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_manifest(
        cls, manifest: Mapping[str, Any], version: str | None = None
    ) -> "CustomResourceType":
        """The CRD's storage version (or ``version``) from its manifest.

        Raises:
            ValueError: The manifest is not a CRD, or has no such served version.
        """
        if manifest.get("kind") != "CustomResourceDefinition":
            raise ValueError(f"not a CustomResourceDefinition: kind {manifest.get('kind')!r}")
        spec = manifest["spec"]
        name = manifest.get("metadata", {}).get("name", "")
        versions = [v for v in spec.get("versions", []) if v.get("served", True)]
        chosen = next(
            (v for v in versions if (v["name"] == version if version else v.get("storage", False))),
            None,
        )
        if chosen is None:
            wanted = version or "storage"
            raise ValueError(f"CustomResourceDefinition {name}: no served {wanted} version")
        names = spec["names"]
        return cls(
            group=spec["group"],
            version=chosen["name"],
            kind=names["kind"],
            plural=names["plural"],
            list_kind=names.get("listKind", names["kind"] + "List"),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            status_subresource="status" in (chosen.get("subresources") or {}),
            schema=chosen.get("schema", {}).get("openAPIV3Schema", {"type": "object"}),
        )

    @classmethod
    def from_file(cls, path: Path, version: str | None = None) -> "CustomResourceType":
        """Read a CRD manifest (YAML) from ``path``; see :meth:`from_manifest`."""
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with path.open(encoding="utf-8") as stream:
            manifest = yaml.load(stream, Loader=loader)
        return cls.from_manifest(manifest, version)

    @functools.cached_property
    def _validator(self) -> Any:
        return _OpenAPIValidator(self.schema)

    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Prune unknown fields and non-nullable nulls, then default, in place.

        Returns:
            The paths of the unknown fields removed (``spec.foo``), for warnings.
        """
        removed: list[str] = []
        properties = self.schema.get("properties") or {}
        for key in list(obj):
            if key in ("apiVersion", "kind", "metadata"):
                continue  # the API server handles these itself
            if key not in properties:
                if self.schema.get("x-kubernetes-preserve-unknown-fields") is not True:
                    del obj[key]
                    removed.append(key)
                continue
            if obj[key] is None and properties[key].get("nullable") is not True:
                del obj[key]
                continue
            _prune(obj[key], properties[key], key, removed)
        _default(obj, self.schema, "")
        return removed

    def validate(self, obj: Mapping[str, Any]) -> list[FieldError]:
        """Every schema violation in ``obj``, sorted by field path."""
        errors = [
            found for error in self._validator.iter_errors(obj) for found in _field_errors(error)
        ]
        unique = {(e.field, e.reason, e.message): e for e in errors}
        return sorted(unique.values(), key=lambda e: (e.field, e.message))


def _prune(value: Any, schema: Mapping[str, Any], path: str, removed: list[str]) -> None:
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        for key in list(value):
            child = f"{path}.{key}"
            if properties is not None and key in properties:
                sub = properties[key]
            elif isinstance(additional, Mapping):
                sub = additional
            elif preserve or additional is True:
                continue  # kept as given, with no schema to prune it by
            else:
                del value[key]
                removed.append(child)
                continue
            if value[key] is None and sub.get("nullable") is not True:
                del value[key]
                continue
            _prune(value[key], sub, child, removed)
        _default(value, schema, path)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                _prune(item, items, f"{path}[{index}]", removed)


def _default(value: dict[str, Any], schema: Mapping[str, Any], path: str) -> None:
    for key, sub in (schema.get("properties") or {}).items():
        if key not in value and "default" in sub:
            value[key] = copy.deepcopy(sub["default"])
            _prune(value[key], sub, f"{path}.{key}" if path else key, [])


@functools.cache
def bundled_crds() -> tuple[CustomResourceType, ...]:
    """The CRDs shipped with kargo-dagster, read once per process."""
    return tuple(
        CustomResourceType.from_file(path) for path in sorted(CRD_DIRECTORY.glob("*.yaml"))
    )

"""What the fake Kubernetes API server does to a request body before it stores it.

Two stages, as in the API server:

* :func:`decode_object` checks the envelope (``kind``, ``apiVersion``, namespace) and
  tidies ``metadata`` the way decoding into ``ObjectMeta`` does; a body it cannot take is
  ``400 BadRequest``;
* :func:`admit` checks the name and labels and, for custom resources, prunes, defaults
  and validates the object against its CRD schema
  (:mod:`kargo_dagster.testing.crd_schemas`); invalid objects are ``422 Invalid`` naming
  each field, pruned fields come back as warnings.
"""

import base64
import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from kargo_dagster.testing.crd_schemas import FieldError, format_value
from kargo_dagster.testing.kube_errors import bad_request, invalid
from kargo_dagster.testing.kube_resource_types import ResourceType

__all__ = ["admit", "decode_object"]

_OBJECT_META = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    r"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*"
    r"[a-z0-9])?)*')"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def decode_object(rtype: ResourceType, namespace: str | None, obj: Any) -> dict[str, Any]:
    """A copy of a request body with its envelope checked and its metadata tidied.

    Checks ``kind``, ``apiVersion`` and the namespace against the request, drops unknown
    metadata fields and nulls, and folds a Secret's ``stringData`` into ``data``.

    Raises:
        KubeAPIError: 400 for a body the API server could not decode.
    """
    if not isinstance(obj, Mapping):
        raise bad_request("the request body must be a JSON object")
    obj = copy.deepcopy(dict(obj))
    if rtype.custom and not obj.get("kind"):
        raise bad_request(f"Object 'Kind' is missing in '{json.dumps(obj, sort_keys=True)}'")
    obj.setdefault("kind", rtype.kind)
    obj.setdefault("apiVersion", rtype.api_version)
    if obj["apiVersion"] != rtype.api_version:
        raise bad_request(
            f"the API version in the data ({obj['apiVersion']}) does not match the "
            f"expected API version ({rtype.api_version})"
        )
    if obj["kind"] != rtype.kind:
        raise bad_request(
            f"the kind in the data ({obj['kind']}) does not match the expected kind ({rtype.kind})"
        )
    meta = obj.get("metadata") or {}
    if not isinstance(meta, Mapping):
        raise bad_request("metadata must be a JSON object")
    # Unknown metadata fields and nulls are dropped, as decoding into ObjectMeta does.
    meta = {k: v for k, v in meta.items() if k in _OBJECT_META and v is not None}
    for key in ("labels", "annotations"):
        values = meta.get(key, {})
        if not isinstance(values, Mapping) or not all(isinstance(v, str) for v in values.values()):
            raise bad_request(f"metadata.{key} must map strings to strings")
    if rtype.namespaced:
        given = meta.get("namespace")
        if given and namespace and given != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent "
                "on the request"
            )
        if not (given or namespace):
            raise bad_request("an empty namespace may not be set during creation")
        meta["namespace"] = given or namespace
    else:
        meta.pop("namespace", None)
    obj["metadata"] = meta
    if rtype.kind == "Secret" and rtype.group == "" and "stringData" in obj:
        # The API server folds stringData into data and never stores it.
        data = dict(obj.get("data") or {})
        for key, value in (obj.pop("stringData") or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data
    return obj


def admit(rtype: ResourceType, obj: dict[str, Any], name: str) -> list[str]:
    """Prune, default and validate ``obj`` in place; the warnings to send back.

    Raises:
        KubeAPIError: 422 Invalid naming every invalid field.
    """
    errors: list[FieldError] = []
    meta = obj["metadata"]
    if not name:
        errors.append(
            FieldError(
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )
        )
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        errors.append(
            FieldError(
                "metadata.name",
                "FieldValueInvalid",
                f"Invalid value: {format_value(name)}: {_DNS_SUBDOMAIN_MESSAGE}",
            )
        )
    errors += [
        FieldError(
            "metadata.labels",
            "FieldValueInvalid",
            f"Invalid value: {format_value(value)}: {_LABEL_VALUE_MESSAGE}",
        )
        for value in sorted((meta.get("labels") or {}).values())
        if len(value) > 63 or not _LABEL_VALUE.match(value)
    ]
    warnings: list[str] = []
    if rtype.crd is not None:
        warnings = [f'unknown field "{path}"' for path in rtype.crd.prune(obj)]
        errors += rtype.crd.validate(obj)
    if errors:
        raise invalid(rtype, name, errors)
    return warnings

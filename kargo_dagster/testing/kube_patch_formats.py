"""The patch formats of the fake Kubernetes API server's ``PATCH`` requests.

A ``PATCH`` names its format in ``Content-Type``: JSON Patch, JSON merge patch, or
strategic merge patch, which the API server refuses for custom resources (``415``).
:func:`patch_format` picks the format a request may use and :func:`apply_patch` applies
the body to the stored object with the algorithms of
:mod:`kargo_dagster.testing.kube_patch`; a patch that does not apply is ``400``.
"""

from collections.abc import Mapping
from typing import Any

from kargo_dagster.testing.kube_errors import KubeAPIError, bad_request, status_body
from kargo_dagster.testing.kube_patch import (
    PatchError,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from kargo_dagster.testing.kube_resource_types import ResourceType

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "apply_patch",
    "patch_format",
]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def patch_format(rtype: ResourceType, content_type: str) -> str:
    """The patch format a request's ``Content-Type`` names, when ``rtype`` takes it.

    Raises:
        KubeAPIError: 415 for a format the kind does not take.
    """
    media = content_type.split(";")[0].strip().lower()
    refused = media == STRATEGIC_MERGE_PATCH and rtype.custom
    if refused or media not in (MERGE_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH):
        accepted = [JSON_PATCH, MERGE_PATCH, "application/apply-patch+yaml"]
        if not rtype.custom:
            accepted.insert(2, STRATEGIC_MERGE_PATCH)
        raise KubeAPIError(
            status_body(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(accepted)}",
            )
        )
    return media


def apply_patch(old: Mapping[str, Any], patch: Any, media: str, name: str) -> dict[str, Any]:
    """``old`` patched with ``patch`` in format ``media``, its metadata still naming ``name``.

    Raises:
        KubeAPIError: 400 when the patch does not apply or leaves no object.
    """
    try:
        if media == JSON_PATCH:
            patched = json_patch(old, patch)
        elif media == MERGE_PATCH:
            if not isinstance(patch, Mapping):
                raise PatchError("a merge patch must be a JSON object")
            patched = merge_patch(old, patch)
        else:
            if not isinstance(patch, Mapping):
                raise PatchError("a strategic merge patch must be a JSON object")
            patched = strategic_merge_patch(old, patch)
    except PatchError as error:
        raise bad_request(str(error)) from None
    if not isinstance(patched, dict):
        raise bad_request("the patched object is not a JSON object")
    patched.setdefault("metadata", {})
    if not isinstance(patched["metadata"], dict):
        raise bad_request("metadata must be a JSON object")
    patched["metadata"].setdefault("name", name)
    return patched

"""The ``list`` verb of the fake Kubernetes API server, and its refusal to watch.

:func:`list_response` answers ``GET`` on a collection as the API server does: the objects
matching ``labelSelector`` and ``fieldSelector``, a page of at most ``limit`` of them with
an opaque ``continue`` token (and ``remainingItemCount``) for the next page, the store's
revision as the list's ``resourceVersion``, and ``kind``/``apiVersion`` left off the items
of built-in kinds. ``watch=true`` is refused with ``400``: the server does not stream
changes.
"""

import base64
import json
from collections.abc import Mapping
from typing import Any

from kargo_dagster.testing.kube_errors import bad_request
from kargo_dagster.testing.kube_resource_types import ResourceType
from kargo_dagster.testing.kube_store import KubeStore

__all__ = ["list_response"]


def list_response(
    store: KubeStore, rtype: ResourceType, namespace: str | None, query: Mapping[str, list[str]]
) -> dict[str, Any]:
    """The ``{Kind}List`` answering a list of ``rtype`` (in ``namespace``, or everywhere).

    Raises:
        KubeAPIError: 400 for a watch, a malformed ``continue`` token or selector.
    """
    if query.get("watch", ["false"])[0].lower() in ("true", "1", "t"):
        raise bad_request("the fake Kubernetes API server does not serve watch requests")
    items = store.list_objects(
        rtype,
        namespace,
        label_selector=query.get("labelSelector", [""])[0],
        field_selector=query.get("fieldSelector", [""])[0],
    )
    revision = str(store.revision)
    start = 0
    token = query.get("continue", [""])[0]
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token))["start"])
        except (ValueError, KeyError, TypeError):
            raise bad_request(f"continue key is not valid: {token}") from None
    limit = int(query.get("limit", ["0"])[0] or 0)
    metadata: dict[str, Any] = {"resourceVersion": revision}
    page = items[start:]
    if limit > 0 and len(page) > limit:
        page = page[:limit]
        following = json.dumps({"start": start + limit}).encode()
        metadata["continue"] = base64.urlsafe_b64encode(following).decode()
        metadata["remainingItemCount"] = len(items) - start - limit
    if not rtype.custom:
        # Built-in lists do not repeat kind and apiVersion on every item.
        for item in page:
            item.pop("kind", None)
            item.pop("apiVersion", None)
    return {
        "kind": rtype.list_kind,
        "apiVersion": rtype.api_version,
        "metadata": metadata,
        "items": page,
    }

"""How the fake Kubernetes API server answers one request, whatever the transport.

:func:`answer_request` takes a request apart and hands it to the part that answers it:
discovery documents (:mod:`~kargo_dagster.testing.kube_discovery`), then the route
(:mod:`~kargo_dagster.testing.kube_routes`), an injected fault
(:mod:`~kargo_dagster.testing.kube_faults`), and the verb, carried out on the
:class:`~kargo_dagster.testing.kube_store.KubeStore` (lists in
:mod:`~kargo_dagster.testing.kube_list`, pod logs in
:mod:`~kargo_dagster.testing.kube_pod_logs`). It answers with the status codes and bodies
the API server sends; refusals are raised as
:class:`~kargo_dagster.testing.kube_errors.KubeAPIError`.
"""

from collections.abc import Mapping
from typing import Any

from kargo_dagster.testing.kube_discovery import discovery_document
from kargo_dagster.testing.kube_errors import status_body
from kargo_dagster.testing.kube_faults import FaultInjector
from kargo_dagster.testing.kube_http import Answer
from kargo_dagster.testing.kube_list import list_response
from kargo_dagster.testing.kube_pod_logs import PodLogs
from kargo_dagster.testing.kube_routes import route, serves_subresource, verb_of
from kargo_dagster.testing.kube_store import KubeStore

__all__ = ["answer_request"]


def _not_found() -> Answer:
    return (
        404,
        status_body(404, "NotFound", "the server could not find the requested resource", {}),
        [],
    )


def _method_not_allowed() -> Answer:
    return (
        405,
        status_body(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ),
        [],
    )


def _success(details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
    }
    if details is not None:
        body["details"] = dict(details)
    return body


def answer_request(
    store: KubeStore,
    faults: FaultInjector,
    pod_logs: PodLogs,
    method: str,
    path: str,
    query: Mapping[str, list[str]],
    body: Any,
    content_type: str,
) -> Answer:
    """Answer one request: status code, JSON body (or log text or stream), warnings.

    Args:
        store: The objects the request reads or writes.
        faults: The failures armed for the next requests.
        pod_logs: What ``/log`` answers.
        method: The HTTP method.
        path: The URL path.
        query: The parsed query string.
        body: The decoded JSON body, or None.
        content_type: The request's ``Content-Type``.

    Raises:
        KubeAPIError: The request is refused (an injected fault included).
    """
    if method == "GET":
        found = discovery_document(store, path)
        if found is not None:
            return 200, found, []
    target = route(store, path)
    if target is None:
        return _not_found()
    rtype, namespace, name, sub = target.rtype, target.namespace, target.name, target.subresource
    verb = verb_of(method, target)
    fault = faults.take(verb, target)
    if fault is not None:
        raise fault
    if not serves_subresource(target, method):
        return _not_found()
    dry_run = "All" in query.get("dryRun", [])
    warnings: list[str] = []
    if verb == "list":
        return 200, list_response(store, rtype, namespace, query), []
    if verb == "deletecollection":
        selector = query.get("labelSelector", [""])[0]
        for item in store.list_objects(rtype, namespace, label_selector=selector):
            meta = item["metadata"]
            store.delete(rtype, meta.get("namespace"), meta["name"], dry_run=dry_run)
        return 200, _success(), []
    if verb == "create":
        if name is not None:
            return _method_not_allowed()
        created = store.create(rtype, namespace, body, dry_run=dry_run, warnings=warnings)
        return 201, created, warnings
    assert name is not None
    if verb == "get":
        obj = store.get(rtype, namespace, name)
        if sub == "log":
            return 200, pod_logs.answer(obj, query), []
        return 200, obj, []
    if verb == "update":
        replaced = store.replace(
            rtype, namespace, name, body, subresource=sub, dry_run=dry_run, warnings=warnings
        )
        return 200, replaced, warnings
    if verb == "patch":
        patched = store.patch(
            rtype,
            namespace,
            name,
            body,
            content_type,
            subresource=sub,
            dry_run=dry_run,
            warnings=warnings,
        )
        return 200, patched, warnings
    if verb == "delete":
        options = body if isinstance(body, Mapping) else {}
        deleted, gone = store.delete(
            rtype,
            namespace,
            name,
            preconditions=options.get("preconditions") or {},
            dry_run=dry_run,
        )
        # 200 even while finalizers hold the object: the API server answers 202 only
        # for the deprecated orphanDependents=false.
        code = 202 if not gone and options.get("orphanDependents") is False else 200
        if rtype.returns_deleted_object or not gone:
            return code, deleted, []
        return code, _success({**rtype.details(name), "uid": deleted["metadata"].get("uid")}), []
    return _method_not_allowed()

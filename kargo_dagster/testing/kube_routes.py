"""Where a request to the fake Kubernetes API server goes, read from its URL path.

:func:`route` parses a resource path (``/api/v1/namespaces/{namespace}/pods/{name}/log``,
``/apis/{group}/{version}/{plural}``) into the kind, namespace, object and subresource it
names, against the kinds a :class:`~kargo_dagster.testing.kube_resource_types.KindRegistry`
serves. :func:`verb_of` names the API verb a request makes, as fault injection sees it, and
:func:`serves_subresource` tells which subresources the server answers.
"""

from dataclasses import dataclass

from kargo_dagster.testing.kube_resource_types import KindRegistry, ResourceType

__all__ = ["Route", "route", "serves_subresource", "verb_of"]

_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Route:
    """What a resource path names.

    Attributes:
        rtype: The kind.
        namespace: The namespace in the path, or None (cluster-scoped, or every namespace).
        name: The object, or None for the collection.
        subresource: ``status``, ``log`` or another trailing segment, or None.
    """

    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def route(kinds: KindRegistry, path: str) -> Route | None:
    """What ``path`` names, or None when it names no served resource."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    rtype = kinds.resource_type(group, version, rest[0])
    if rtype is None or (namespace is not None and not rtype.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if name is not None and rtype.namespaced and namespace is None:
        return None
    return Route(rtype, namespace, name, subresource)


def verb_of(method: str, target: Route) -> str:
    """The API verb of an HTTP ``method`` on ``target`` (``""`` for a method with none).

    Without an object name ``GET`` lists and ``DELETE`` deletes the collection.
    """
    verb = _VERBS.get(method, "")
    if target.name is None:
        verb = {"get": "list", "delete": "deletecollection"}.get(verb, verb)
    return verb


def serves_subresource(target: Route, method: str) -> bool:
    """Whether the server answers ``method`` on the subresource ``target`` names.

    Only ``/status`` of kinds with a status subresource and ``/log`` of core Pods are
    served; a route without a subresource always is.
    """
    sub, rtype = target.subresource, target.rtype
    return (
        sub is None
        or (sub == "status" and rtype.status_subresource and method in ("GET", "PUT", "PATCH"))
        or (sub == "log" and rtype.plural == "pods" and not rtype.group and method == "GET")
    )

"""The discovery documents of the fake Kubernetes API server.

Clients ask ``/version``, ``/api``, ``/apis`` and each group version
(``/api/v1``, ``/apis/{group}/{version}``) what the server serves before they use a kind;
:func:`discovery_document` answers those paths from the kinds registered in a
:class:`~kargo_dagster.testing.kube_resource_types.KindRegistry`, in the shapes the API
server sends (``APIVersions``, ``APIGroupList``, ``APIResourceList``).
"""

from typing import Any

from kargo_dagster.testing.kube_resource_types import KindRegistry

__all__ = ["discovery_document"]

# GET /version: a fixed release recent enough for every client the tests use.
_SERVER_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0+fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T07:28:49Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]


def discovery_document(kinds: KindRegistry, path: str) -> Any:
    """The discovery document at ``path``, or None when ``path`` is not a discovery path."""
    parts = [p for p in path.split("/") if p]
    types = kinds.types()
    if parts == ["version"]:
        return _SERVER_VERSION
    if parts == ["api"]:
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if parts == ["apis"]:
        versions = sorted({(t.group, t.version) for t in types if t.group})
        groups: dict[str, list[dict[str, str]]] = {}
        for group, version in versions:
            groups.setdefault(group, []).append(
                {"groupVersion": f"{group}/{version}", "version": version}
            )
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {"name": g, "versions": v, "preferredVersion": v[0]}
                for g, v in sorted(groups.items())
            ],
        }
    if parts == ["api", "v1"] or (parts[:1] == ["apis"] and len(parts) == 3):
        group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
        served = [t for t in types if (t.group, t.version) == (group, version)]
        if not served:
            return None
        resources: list[dict[str, Any]] = []
        for t in served:
            resources.append(
                {
                    "name": t.plural,
                    "singularName": t.kind.lower(),
                    "namespaced": t.namespaced,
                    "kind": t.kind,
                    "verbs": list(_VERBS),
                }
            )
            if t.status_subresource:
                resources.append(
                    {
                        "name": f"{t.plural}/status",
                        "singularName": "",
                        "namespaced": t.namespaced,
                        "kind": t.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }
    return None

"""A Kubernetes API server for tests: real HTTP on 127.0.0.1, objects kept in memory.

The real ``kubernetes`` client talks to it unchanged (configure it with
:meth:`FakeKubeAPI.api_client`), so code under test makes exactly the calls it makes against
a cluster and gets the answers a cluster gives: JSON over the wire, ``v1/Status`` error
bodies, resourceVersions, conflicts and schema validation (see
:mod:`kargo_dagster.testing.kube_store` for the semantics).

Served kinds:

* core ``v1``: Secrets, ConfigMaps, Events, Pods (with ``/status`` and ``/log``, see below);
* ``batch/v1`` Jobs (with ``/status``);
* ``argoproj.io/v1alpha1`` Applications (Argo CD v3.5.1 CRD), AnalysisRuns,
  AnalysisTemplates and ClusterAnalysisTemplates (cluster-scoped), validated against their
  CRDs (``kargo_dagster/testing/crds/``);
* any CRD registered with :meth:`FakeKubeAPI.register_crd`, and any other kind stored with
  :meth:`FakeKubeAPI.add` (then without a schema).

Verbs: ``get``, ``list`` (``labelSelector`` with ``=``, ``==``, ``!=``, ``in``, ``notin``,
``key``, ``!key``; ``fieldSelector``; ``limit``/``continue``), ``create``, ``update``
(``PUT``), ``patch`` (``application/merge-patch+json``, ``application/json-patch+json``,
and ``application/strategic-merge-patch+json`` for built-in kinds), ``delete`` and
``deletecollection``; ``dryRun=All``; discovery (``/version``, ``/api``, ``/apis``, the
group-version resource lists). Not served: ``watch`` (400), server-side apply (415),
namespaces as objects (any namespace name works), RBAC and admission webhooks.

Test code seeds objects with :meth:`FakeKubeAPI.add`, reads them back with
:meth:`FakeKubeAPI.get`, and injects failures with :meth:`FakeKubeAPI.fail_next`. Every
request is recorded in :attr:`FakeKubeAPI.requests`. Clients that read a kubeconfig file
(``kubernetes.config.load_kube_config``, dagster-k8s's ``PipesK8sClient``) get one from
:meth:`FakeKubeAPI.write_kubeconfig`.

Pod logs come from one of two places. A test may fix a pod's whole log with
:meth:`FakeKubeAPI.set_pod_log`. A pod simulator (:mod:`kargo_dagster.testing.pod_sim`)
instead opens the log when the pod's containers start (:meth:`FakeKubeAPI.open_pod_log`) and
appends lines as the process prints them (:meth:`FakeKubeAPI.append_pod_log`), each stamped
with an RFC 3339 time to the nanosecond; those lines take precedence. The ``/log`` endpoint
honours ``timestamps=true`` (each line prefixed with its time and a space), ``tailLines``,
``container`` (simulated lines belong to the first container) and ``follow=true``, which
streams simulated lines with chunked transfer encoding as they are appended and ends when
every container of the pod has terminated, the pod is deleted, or the server stops.

How to use::

    import kubernetes
    from kargo_dagster.testing.kube_api import FakeKubeAPI, secret

    with FakeKubeAPI() as api:
        api.add(secret("kargo-demo", "ghcr", {"repoURL": "ghcr.io/acme/app"}))
        api.add(application)  # an argoproj.io/v1alpha1 Application manifest (a dict)
        custom = kubernetes.client.CustomObjectsApi(api.api_client())
        app = custom.get_namespaced_custom_object(
            "argoproj.io", "v1alpha1", "argocd", "applications", "guestbook"
        )
        api.fail_next("patch", "applications", "guestbook", code=409)
        ...  # the next PATCH of guestbook gets 409 Conflict

The Argo CD and AnalysisRun simulators (:mod:`kargo_dagster.testing.argocd_sim`,
:mod:`kargo_dagster.testing.analysis_sim`) attach to a running ``FakeKubeAPI``.
"""

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import kubernetes
import yaml

from kargo_dagster.testing.crd_schemas import CustomResourceType
from kargo_dagster.testing.kube_store import (
    KubeAPIError,
    KubeStore,
    ResourceType,
    bad_request,
    conflict,
    not_found,
    status_body,
)
from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler

__all__ = [
    "APPLICATIONS",
    "FakeKubeAPI",
    "KubeAPIError",
    "KubeRequest",
    "config_map",
    "error_status",
    "secret",
]

APPLICATIONS = ("argoproj.io", "v1alpha1", "applications")
_VERSION = {
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


def secret(
    namespace: str,
    name: str,
    data: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``v1/Secret`` manifest with ``data`` base64-encoded, as the API server stores it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def config_map(
    namespace: str,
    name: str,
    data: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``v1/ConfigMap`` manifest."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "data": dict(data),
    }


def error_status(error: kubernetes.client.ApiException) -> dict[str, Any]:
    """The ``v1/Status`` body of an error the ``kubernetes`` client raised.

    Raises:
        ValueError: The error carries no JSON body.
    """
    if not error.body:
        raise ValueError(f"the API error {error.status} has no body")
    return json.loads(error.body)


class KubeRequest(NamedTuple):
    """One request the server received.

    Attributes:
        method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
        path: The URL path.
        query: The raw query string.
        content_type: The request's ``Content-Type`` (``""`` when it has no body).
        body: The decoded JSON body, or None.
        status: The HTTP status answered.
    """

    method: str
    path: str
    query: str = ""
    content_type: str = ""
    body: Any = None
    status: int = 0


@dataclass
class _Fault:
    verb: str
    plural: str
    name: str | None
    namespace: str | None
    code: int
    body: Mapping[str, Any] | None
    times: int


@dataclass
class _PodLog:
    """The lines a simulated pod printed: (RFC 3339 nanosecond time, text), oldest first."""

    lines: list[tuple[str, str]]
    last_ns: int = 0


@dataclass(frozen=True)
class _LogFollow:
    """A ``follow=true`` log request to stream once the response headers are out."""

    namespace: str
    name: str
    uid: str
    first_container: bool
    timestamps: bool
    start: int


# How often a log follower re-reads the pod's status while no line arrives: it learns of
# termination and deletion from the store, which does not share the log's condition.
_FOLLOW_POLL = 0.05


def _nano_timestamp(ns: int) -> str:
    """``ns`` nanoseconds since the epoch as a Kubernetes log time (9 fractional digits)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    whole = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{fraction:09d}Z"


def _log_line(line: tuple[str, str], timestamps: bool) -> str:
    stamp, text = line
    return f"{stamp} {text}\n" if timestamps else f"{text}\n"


def _all_terminated(pod: Mapping[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all((s.get("state") or {}).get("terminated") for s in statuses)


@dataclass(frozen=True)
class _Route:
    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


_WRITES = ("update", "patch")
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class FakeKubeAPI:
    """An in-memory Kubernetes API server; use as a context manager to run it.

    Args:
        clock: Returns the current time for timestamps the server sets.
        crds: The CRDs to serve; by default the bundled Argo CD and Argo Rollouts ones.
        port: The port to listen on (0: any free one).

    Attributes:
        store: The objects and their semantics; simulators and tests may use it directly.
        requests: Every request received, in order.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        crds: list[CustomResourceType] | None = None,
        port: int = 0,
    ) -> None:
        self.port = port
        self.store = KubeStore(crds=crds) if clock is None else KubeStore(clock=clock, crds=crds)
        self.requests: list[KubeRequest] = []
        self._faults: list[_Fault] = []
        self._pod_logs: dict[tuple[str, str], str] = {}
        self._pod_lines: dict[tuple[str, str], _PodLog] = {}
        self._lock = threading.Lock()
        # Log followers wait on this for appended lines and for the server to stop.
        self._log_changed = threading.Condition(self._lock)
        self._stopped = False
        self._server: LoopbackServer | None = None

    # Lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL."""
        assert self._server is not None, "the server is not running"
        return self._server.url

    def api_client(self) -> kubernetes.client.ApiClient:
        """A real ``kubernetes`` client configured for this server."""
        configuration = kubernetes.client.Configuration()
        configuration.host = self.url
        return kubernetes.client.ApiClient(configuration)

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        """Write a kubeconfig whose current context reaches this server, without credentials.

        Args:
            path: The file to write (its directory must exist).
            namespace: The context's default namespace.

        Returns:
            The path written.

        Examples:
            >>> kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")  # doctest: +SKIP
            >>> kubernetes.config.load_kube_config(config_file=str(kubeconfig))  # doctest: +SKIP
        """
        name = "fake-kube-api"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": self.url}}],
            "users": [{"name": name, "user": {}}],
            "contexts": [
                {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
            ],
            "current-context": name,
            "preferences": {},
        }
        target = Path(path)
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    def __enter__(self) -> "FakeKubeAPI":
        with self._lock:
            self._stopped = False
        self._server = LoopbackServer(self._handler(), port=self.port, name="fake-kube-api")
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._log_changed:
            self._stopped = True
            self._log_changed.notify_all()
        if self._server is not None:
            self._server.close()

    # Test set-up ---------------------------------------------------------------------------

    def register_crd(self, manifest: Mapping[str, Any], version: str | None = None) -> ResourceType:
        """Serve the custom resource a CRD manifest (a dict) defines, validating writes."""
        return self.store.register_crd(manifest, version)

    def resource(self, api_version: str, kind: str) -> ResourceType:
        """The served kind for ``apiVersion`` and ``kind``.

        Raises:
            KeyError: The kind is not served.
        """
        rtype = self.store.type_of(api_version, kind)
        if rtype is None:
            raise KeyError(f"the fake API server does not serve {api_version} {kind}")
        return rtype

    def add(self, obj: Mapping[str, Any], plural: str | None = None) -> dict[str, Any]:
        """Store ``obj`` (replacing one with the same name) and return it as stored.

        The object keeps its ``status``, ``uid`` and ``creationTimestamp`` (recorded
        objects can be replayed); it gets a fresh ``resourceVersion`` and is validated
        against its CRD. A kind the server does not know is registered on the fly as a
        custom resource without schema, at ``plural`` (default: the lower-case kind + "s").

        Raises:
            KubeAPIError: 422 when the object does not fit its kind's schema.
            ValueError: ``obj`` has no ``apiVersion``, ``kind`` or ``metadata.name``.
        """
        if not obj.get("apiVersion") or not obj.get("kind"):
            raise ValueError("add() needs an object with apiVersion and kind")
        rtype = self.store.type_of(obj["apiVersion"], obj["kind"])
        if rtype is None:
            group, _, version = str(obj["apiVersion"]).rpartition("/")
            rtype = self.store.register(
                ResourceType(
                    group,
                    version,
                    obj["kind"],
                    plural or obj["kind"].lower() + "s",
                    namespaced=bool((obj.get("metadata") or {}).get("namespace")),
                    tracks_generation=bool(group),
                    custom=bool(group),
                )
            )
        return self.store.seed(obj, rtype)

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """The stored object.

        Raises:
            KubeAPIError: 404 when there is none.
        """
        return self.store.get(self.resource(api_version, kind), namespace, name)

    def find(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """The stored object, or None."""
        return self.store.find(self.resource(api_version, kind), namespace, name)

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        """The stored objects of a kind (in ``namespace``, or everywhere)."""
        return self.store.list_objects(
            self.resource(api_version, kind), namespace, label_selector=label_selector
        )

    def set_pod_log(self, namespace: str, name: str, text: str) -> None:
        """What ``GET .../pods/{name}/log`` answers for that pod (unless it has a simulated log)."""
        with self._lock:
            self._pod_logs[(namespace, name)] = text

    def open_pod_log(self, namespace: str, name: str) -> None:
        """Start an empty simulated log for the pod, replacing any earlier one.

        Call it before the pod's containers are reported running, so that a client following
        the log from then on gets the simulated lines rather than the :meth:`set_pod_log` text.
        """
        with self._log_changed:
            self._pod_lines[(namespace, name)] = _PodLog([])
            self._log_changed.notify_all()

    def append_pod_log(self, namespace: str, name: str, line: str) -> str:
        """Add one line (without its newline) to the pod's simulated log; its timestamp.

        The timestamp is the current time to the nanosecond, made later than the pod's
        previous line when the clock has not moved: dagster-k8s joins lines that share a
        timestamp into one message.
        """
        with self._log_changed:
            log = self._pod_lines.setdefault((namespace, name), _PodLog([]))
            log.last_ns = max(time.time_ns(), log.last_ns + 1)
            stamp = _nano_timestamp(log.last_ns)
            log.lines.append((stamp, line))
            self._log_changed.notify_all()
            return stamp

    def pod_log_lines(self, namespace: str, name: str) -> list[str]:
        """The pod's simulated log lines so far, without timestamps."""
        with self._lock:
            log = self._pod_lines.get((namespace, name))
            return [text for _, text in log.lines] if log else []

    def fail_next(
        self,
        verb: str,
        plural: str,
        name: str | None = None,
        namespace: str | None = None,
        *,
        code: int = 409,
        body: Mapping[str, Any] | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` matching requests fail before they reach the store.

        Args:
            verb: ``get``, ``list``, ``create``, ``update``, ``patch``, ``delete``,
                ``write`` (update or patch), or ``*``.
            plural: The resource (``applications``), or ``*``.
            name: Only requests for this object (any when None).
            namespace: Only requests in this namespace (any when None).
            code: The HTTP status; 409 answers the Conflict body of a stale write, 404
                NotFound, 500 InternalError, 429 TooManyRequests, others a generic Status.
            body: The Status body to send instead of the generated one.
            times: How many requests to fail.
        """
        with self._lock:
            self._faults.append(_Fault(verb, plural, name, namespace, code, body, times))

    # Request handling ----------------------------------------------------------------------

    def _fault_for(self, verb: str, route: _Route) -> KubeAPIError | None:
        with self._lock:
            for fault in self._faults:
                if (
                    (fault.verb in ("*", verb) or (fault.verb == "write" and verb in _WRITES))
                    and fault.plural in ("*", route.rtype.plural)
                    and fault.name in (None, route.name)
                    and fault.namespace in (None, route.namespace)
                ):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    break
            else:
                return None
        if fault.body is not None:
            return KubeAPIError(fault.body)
        name = route.name or ""
        if fault.code == 409:
            return conflict(route.rtype, name)
        if fault.code == 404:
            return not_found(route.rtype, name)
        if fault.code == 500:
            return KubeAPIError(
                status_body(500, "InternalError", "Internal error occurred: injected failure")
            )
        if fault.code == 429:
            return KubeAPIError(
                status_body(
                    429,
                    "TooManyRequests",
                    "the server has received too many requests and has asked us to try again later",
                    {"retryAfterSeconds": 1},
                )
            )
        return KubeAPIError(status_body(fault.code, "", f"injected failure {fault.code}"))

    def _route(self, path: str) -> _Route | None:
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
        rtype = self.store.resource_type(group, version, rest[0])
        if rtype is None or (namespace is not None and not rtype.namespaced):
            return None
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if name is not None and rtype.namespaced and namespace is None:
            return None
        return _Route(rtype, namespace, name, subresource)

    def _discovery(self, path: str) -> Any:
        parts = [p for p in path.split("/") if p]
        types = self.store.types()
        if parts == ["version"]:
            return _VERSION
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
                verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]
                resources.append(
                    {
                        "name": t.plural,
                        "singularName": t.kind.lower(),
                        "namespaced": t.namespaced,
                        "kind": t.kind,
                        "verbs": verbs,
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

    def _handle(
        self, method: str, path: str, query: Mapping[str, list[str]], body: Any, content_type: str
    ) -> tuple[int, Any, list[str]]:
        """Answer one request: status code, JSON body (or text), warnings."""
        if method == "GET":
            found = self._discovery(path)
            if found is not None:
                return 200, found, []
        route = self._route(path)
        if route is None:
            return (
                404,
                status_body(
                    404, "NotFound", "the server could not find the requested resource", {}
                ),
                [],
            )
        rtype, namespace, name, sub = route.rtype, route.namespace, route.name, route.subresource
        verb = _VERBS.get(method, "")
        if name is None:
            verb = {"get": "list", "delete": "deletecollection"}.get(verb, verb)
        fault = self._fault_for(verb, route)
        if fault is not None:
            raise fault
        if sub is not None and not (
            (sub == "status" and rtype.status_subresource and method in ("GET", "PUT", "PATCH"))
            or (sub == "log" and rtype.plural == "pods" and not rtype.group and method == "GET")
        ):
            return (
                404,
                status_body(
                    404, "NotFound", "the server could not find the requested resource", {}
                ),
                [],
            )
        dry_run = "All" in query.get("dryRun", [])
        warnings: list[str] = []
        if verb == "list":
            if query.get("watch", ["false"])[0].lower() in ("true", "1", "t"):
                raise bad_request("the fake Kubernetes API server does not serve watch requests")
            return 200, self._list(rtype, namespace, query), []
        if verb == "deletecollection":
            selector = query.get("labelSelector", [""])[0]
            for item in self.store.list_objects(rtype, namespace, label_selector=selector):
                meta = item["metadata"]
                self.store.delete(rtype, meta.get("namespace"), meta["name"], dry_run=dry_run)
            return (
                200,
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"},
                [],
            )
        if verb == "create":
            if name is not None:
                return (
                    405,
                    status_body(
                        405,
                        "MethodNotAllowed",
                        "the server does not allow this method on the requested resource",
                    ),
                    [],
                )
            created = self.store.create(rtype, namespace, body, dry_run=dry_run, warnings=warnings)
            return 201, created, warnings
        assert name is not None
        if verb == "get":
            obj = self.store.get(rtype, namespace, name)
            if sub == "log":
                return 200, self._pod_log(obj, query), []
            return 200, obj, []
        if verb == "update":
            replaced = self.store.replace(
                rtype, namespace, name, body, subresource=sub, dry_run=dry_run, warnings=warnings
            )
            return 200, replaced, warnings
        if verb == "patch":
            patched = self.store.patch(
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
            deleted, gone = self.store.delete(
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
            return (
                code,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {**rtype.details(name), "uid": deleted["metadata"].get("uid")},
                },
                [],
            )
        return (
            405,
            status_body(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ),
            [],
        )

    def _pod_log(self, pod: Mapping[str, Any], query: Mapping[str, list[str]]) -> str | _LogFollow:
        """The answer to ``GET .../log``: the text, or a stream to follow.

        Raises:
            KubeAPIError: 400 for a container the pod does not have or a bad ``tailLines``.
        """
        meta = pod["metadata"]
        namespace, name = meta.get("namespace") or "", meta["name"]
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container", [""])[0]
        if container and container not in names:
            raise bad_request(f"container {container} is not valid for pod {name}")
        flag = {"true", "1", "t"}
        timestamps = query.get("timestamps", ["false"])[0].lower() in flag
        tail = query.get("tailLines", [""])[0]
        if tail and not tail.isdigit():
            raise bad_request(f"tailLines must be a non-negative integer, not {tail!r}")
        first = not container or container == names[0]
        with self._lock:
            log = self._pod_lines.get((namespace, name))
            if log is None:
                text = self._pod_logs.get((namespace, name), "")
                if not tail:
                    return text
                kept = text.splitlines(keepends=True)
                return "".join(kept[max(len(kept) - int(tail), 0) :])
            lines = log.lines if first else []
            start = max(len(lines) - int(tail), 0) if tail else 0
            if query.get("follow", ["false"])[0].lower() in flag:
                uid = str(meta.get("uid") or "")
                return _LogFollow(namespace, name, uid, first, timestamps, start)
            return "".join(_log_line(line, timestamps) for line in lines[start:])

    def _follow(self, follow: _LogFollow, write: Callable[[bytes], None]) -> None:
        """Write the pod's lines as they are appended until it terminates or is deleted."""
        pods = self.resource("v1", "Pod")
        sent = follow.start
        while True:
            # Read the pod before the lines: once it is seen terminated, every line its
            # process printed was already appended.
            pod = self.store.find(pods, follow.namespace, follow.name)
            gone = pod is None or str(pod["metadata"].get("uid") or "") != follow.uid
            finished = gone or _all_terminated(pod or {})
            with self._log_changed:
                log = self._pod_lines.get((follow.namespace, follow.name))
                lines = log.lines[sent:] if log and follow.first_container else []
                stopped = self._stopped
            for line in lines:
                write(_log_line(line, follow.timestamps).encode())
            sent += len(lines)
            if finished or stopped:
                return
            key = (follow.namespace, follow.name)
            with self._log_changed:
                log = self._pod_lines.get(key)
                waiting = log is None or not follow.first_container or len(log.lines) <= sent
                if waiting and not self._stopped:
                    # Woken by an append or the server stopping; otherwise polls the status.
                    self._log_changed.wait(timeout=_FOLLOW_POLL)

    def _list(
        self, rtype: ResourceType, namespace: str | None, query: Mapping[str, list[str]]
    ) -> dict[str, Any]:
        items = self.store.list_objects(
            rtype,
            namespace,
            label_selector=query.get("labelSelector", [""])[0],
            field_selector=query.get("fieldSelector", [""])[0],
        )
        revision = str(self.store.revision)
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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(QuietHandler):
            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                content_type = self.headers.get("Content-Type", "") or ""
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: Any = None
                warnings: list[str] = []
                try:
                    if raw:
                        try:
                            body = json.loads(raw)
                        except ValueError as error:
                            raise bad_request(f"the request body is not JSON: {error}") from None
                    code, answer, warnings = api._handle(
                        method, url.path, parse_qs(url.query), body, content_type
                    )
                except KubeAPIError as error:
                    code, answer = error.code, error.status
                with api._lock:
                    api.requests.append(
                        KubeRequest(
                            method, url.path, url.query, content_type if raw else "", body, code
                        )
                    )
                if isinstance(answer, _LogFollow):
                    self._stream(answer)
                    return
                if isinstance(answer, str):
                    payload, media = answer.encode(), "text/plain"
                else:
                    payload, media = json.dumps(answer).encode(), "application/json"
                self.send_response(code)
                self.send_header("Content-Type", media)
                self.send_header("Content-Length", str(len(payload)))
                for warning in warnings:
                    self.send_header("Warning", f"299 - {json.dumps(warning)}")
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, follow: _LogFollow) -> None:
                # Chunked encoding needs an HTTP/1.1 status line; the connection still
                # closes after this response, as every other one does.
                self.protocol_version = "HTTP/1.1"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                # Each chunk is one write; without Nagle it leaves at once, so a follower
                # sees a line as soon as the process printed it.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

                def write(data: bytes) -> None:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

                try:
                    api._follow(follow, write)
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped following

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        return Handler

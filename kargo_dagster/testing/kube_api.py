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

This module is the server's front: :class:`FakeKubeAPI` ties the parts together and is where
tests set the server up. The parts live beside it: the HTTP handler and the request record
in :mod:`~kargo_dagster.testing.kube_http`, answering a request in
:mod:`~kargo_dagster.testing.kube_dispatch` (with URL routing in
:mod:`~kargo_dagster.testing.kube_routes`, discovery in
:mod:`~kargo_dagster.testing.kube_discovery`, lists in :mod:`~kargo_dagster.testing.kube_list`
and injected failures in :mod:`~kargo_dagster.testing.kube_faults`), pod logs in
:mod:`~kargo_dagster.testing.kube_pod_logs`, client configuration and kubeconfig files in
:mod:`~kargo_dagster.testing.kube_client_config`, and the manifest builders in
:mod:`~kargo_dagster.testing.kube_manifests`. The names tests use are importable from here
(``__all__``).
"""

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Self

import kubernetes

from kargo_dagster.testing import kube_client_config
from kargo_dagster.testing.crd_schemas import CustomResourceType
from kargo_dagster.testing.kube_client_config import error_status
from kargo_dagster.testing.kube_dispatch import answer_request
from kargo_dagster.testing.kube_errors import KubeAPIError
from kargo_dagster.testing.kube_faults import FaultInjector
from kargo_dagster.testing.kube_http import Answer, KubeRequest, handler_class
from kargo_dagster.testing.kube_manifests import config_map, secret
from kargo_dagster.testing.kube_pod_logs import LogFollow, PodLogs
from kargo_dagster.testing.kube_resource_types import ResourceType
from kargo_dagster.testing.kube_store import KubeStore
from kargo_dagster.testing.loopback import LoopbackService

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


class FakeKubeAPI(LoopbackService):
    """An in-memory Kubernetes API server; use as a context manager to run it.

    Args:
        clock: Returns the current time for timestamps the server sets.
        crds: The CRDs to serve; by default the bundled Argo CD and Argo Rollouts ones.
        port: The port to listen on (0: any free one).

    Attributes:
        store: The objects and their semantics; simulators and tests may use it directly.
        requests: Every request received, in order.
    """

    _thread_name = "fake-kube-api"

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        crds: list[CustomResourceType] | None = None,
        port: int = 0,
    ) -> None:
        self._listen_port = port
        self.store = KubeStore(crds=crds) if clock is None else KubeStore(clock=clock, crds=crds)
        self.requests: list[KubeRequest] = []
        self._faults = FaultInjector()
        self._pod_logs = PodLogs()
        self._requests_lock = threading.Lock()

    # Lifecycle -----------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return handler_class(self._handle, self._record, self._follow)

    def start(self) -> Self:
        """Start serving (``with`` does this)."""
        self._pod_logs.start()
        return super().start()

    def stop(self) -> None:
        """Stop serving; followed pod logs end."""
        self._pod_logs.stop()
        super().stop()

    def api_client(self) -> kubernetes.client.ApiClient:
        """A real ``kubernetes`` client configured for this server."""
        return kube_client_config.api_client(self.url)

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
        return kube_client_config.write_kubeconfig(self.url, path, namespace)

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
        self._pod_logs.set_text(namespace, name, text)

    def open_pod_log(self, namespace: str, name: str) -> None:
        """Start an empty simulated log for the pod, replacing any earlier one.

        Call it before the pod's containers are reported running, so that a client following
        the log from then on gets the simulated lines rather than the :meth:`set_pod_log` text.
        """
        self._pod_logs.open(namespace, name)

    def append_pod_log(self, namespace: str, name: str, line: str) -> str:
        """Add one line (without its newline) to the pod's simulated log; its timestamp.

        The timestamp is the current time to the nanosecond, made later than the pod's
        previous line when the clock has not moved: dagster-k8s joins lines that share a
        timestamp into one message.
        """
        return self._pod_logs.append(namespace, name, line)

    def pod_log_lines(self, namespace: str, name: str) -> list[str]:
        """The pod's simulated log lines so far, without timestamps."""
        return self._pod_logs.lines(namespace, name)

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
        self._faults.arm(verb, plural, name, namespace, code, body, times)

    # Request handling ----------------------------------------------------------------------

    def _handle(
        self, method: str, path: str, query: Mapping[str, list[str]], body: Any, content_type: str
    ) -> Answer:
        return answer_request(
            self.store, self._faults, self._pod_logs, method, path, query, body, content_type
        )

    def _record(self, request: KubeRequest) -> None:
        with self._requests_lock:
            self.requests.append(request)

    def _follow(self, follow: LogFollow, write: Callable[[bytes], None]) -> None:
        pods = self.resource("v1", "Pod")
        self._pod_logs.follow(
            follow, lambda: self.store.find(pods, follow.namespace, follow.name), write
        )

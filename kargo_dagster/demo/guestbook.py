"""The demo's guestbook application: what each Stage is running, over HTTP.

The demo deploys nothing for real, so its Stages' verification probes this stand-in instead
of a running service. ``GET /<stage>/healthz`` answers as the guestbook deployed in that
Stage would: it finds the Application ``guestbook-<stage>`` in the simulated Argo CD, reads
the image tag its synced commit gives the Stage's Kustomize overlay, and reports
``{"status": ..., "version": <tag>}``. The status is ``ok`` unless the tag is one of the
versions the demo ships broken, which report ``failing`` so that the ``verified`` gate has
something to stop. An unknown Stage or an Application that has not synced yet is a 404.
"""

import json
from collections.abc import Callable, Collection
from typing import Any

import yaml

from kargo_dagster.testing.git_remote import GitRemote
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler

__all__ = ["GuestbookApp"]


class GuestbookApp:
    """Serves the guestbook's per-Stage health on 127.0.0.1 until :meth:`close`.

    Args:
        kube: The fake Kubernetes API holding the ``guestbook-<stage>`` Applications.
        gitops: The GitOps repository the Applications sync from.
        namespace: The Applications' namespace.
        broken: Image tags whose deployments report ``failing``.
        port: The port to listen on; 0 picks a free one.
    """

    def __init__(
        self,
        kube: FakeKubeAPI,
        gitops: GitRemote,
        *,
        namespace: str = "argocd",
        broken: Collection[str] = (),
        port: int = 0,
    ) -> None:
        self._kube = kube
        self._gitops = gitops
        self._namespace = namespace
        self._broken = frozenset(broken)
        self._server = LoopbackServer(_handler(self._health), port=port, name="guestbook-app")
        self.url = self._server.url

    def __enter__(self) -> "GuestbookApp":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving."""
        self._server.close()

    def deployed_version(self, stage: str) -> str | None:
        """The image tag Stage ``stage`` runs, or None before its first sync."""
        found = self._kube.find(
            "argoproj.io/v1alpha1", "Application", self._namespace, f"guestbook-{stage}"
        )
        revision = ((found or {}).get("status") or {}).get("sync", {}).get("revision")
        path = ((found or {}).get("spec") or {}).get("source", {}).get("path")
        if not revision or not path:
            return None
        overlay = yaml.safe_load(self._gitops.git("show", f"{revision}:{path}/kustomization.yaml"))
        for image in (overlay or {}).get("images") or []:
            if image.get("newTag"):
                return str(image["newTag"])
        return None

    def _health(self, stage: str) -> tuple[int, dict[str, Any]]:
        version = self.deployed_version(stage)
        if version is None:
            return 404, {"status": "unknown", "message": f"nothing is deployed in {stage}"}
        status = "failing" if version in self._broken else "ok"
        return 200, {"status": status, "version": version, "stage": stage}


def _handler(health: Callable[[str], tuple[int, dict[str, Any]]]) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
            if len(parts) == 2 and parts[1] == "healthz":
                try:
                    code, body = health(parts[0])
                except Exception as error:  # noqa: BLE001 - a probe sees a 500, not a hang
                    code, body = 500, {"status": "error", "message": str(error)}
            else:
                code, body = 404, {"status": "unknown", "message": "try /<stage>/healthz"}
            self.reply(code, json.dumps(body).encode(), [("Content-Type", "application/json")])

    return Handler

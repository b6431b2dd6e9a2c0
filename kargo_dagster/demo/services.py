"""The demo's local world: an OCI registry, a GitOps repository and a simulated Argo CD.

``kargo-dagster demo`` runs the example in ``stages/`` without network access: its Warehouse
watches ``127.0.0.1:5123/guestbook`` in a local ``docker-registry``, its promotions update
``http://127.0.0.1:8431/guestbook-gitops.git``, a bare repository served over git's smart
HTTP protocol, and ask Argo CD to sync the Applications ``guestbook-<stage>``, which live in
a fake Kubernetes API on ``127.0.0.1:8432`` where the Argo CD simulator syncs them to the
repository's commits. The Stages' verification probes
``http://127.0.0.1:8433/<stage>/healthz``, a stand-in for the deployed guestbook that reports
the version Argo CD synced into the Stage
(:class:`~kargo_dagster.demo.guestbook.GuestbookApp`); version ``v0.3.0`` ships broken.
The registry and the repository keep their data under the demo's home, so a restarted demo
continues where it stopped; the Applications start afresh.

The demo publishes its versions as a story (``fix_after``): ``v0.1.0`` and ``v0.2.0`` at
once, the broken ``v0.3.0`` once staging runs ``v0.2.0`` (so the gate has a good version to
keep there), and its fix ``v0.4.0`` only minutes later, so the broken version stays in dev
until someone acts; then a new version every ``publish_every`` seconds.
"""

import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from kargo_dagster.demo.guestbook import GuestbookApp
from kargo_dagster.testing.argocd_sim import ArgoCDSimulator, application
from kargo_dagster.testing.git_remote import GitHTTPServer, GitIdentity, GitRemote
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.oci_push import push_image
from kargo_dagster.testing.registry import LocalRegistry

REGISTRY_PORT = 5123
GIT_PORT = 8431
KUBE_PORT = 8432
APP_PORT = 8433
PROJECT = "kargo-demo"
IMAGE_REPOSITORY = "guestbook"
GITOPS_REPOSITORY = "guestbook-gitops"
STAGES = ("dev", "staging", "prod")
FIRST_VERSIONS = ("v0.1.0", "v0.2.0")
# The version whose deployments fail their smoke test, so the verified gate has work to do.
BROKEN_VERSIONS = ("v0.3.0",)
# How long the demo leaves a broken version alone before publishing its fix: minutes, so that
# a person following the README finds it still failing in dev and rolls it back themselves.
FIX_AFTER = 600.0
_SEMVER = re.compile(r"^v\d+\.\d+\.\d+$")

_BASE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
spec:
  replicas: 1
  selector:
    matchLabels:
      app: guestbook
  template:
    metadata:
      labels:
        app: guestbook
    spec:
      containers:
      - name: guestbook
        image: {image}:v0.0.0
"""
_BASE_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
"""
_STAGE_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: guestbook-{stage}
resources:
- ../../base
"""


@dataclass(frozen=True)
class DemoServices:
    """Where the running demo services are."""

    registry: LocalRegistry
    git: GitHTTPServer
    gitops: GitRemote
    kube: FakeKubeAPI
    argocd: ArgoCDSimulator
    app: GuestbookApp

    @property
    def image(self) -> str:
        """The image repository the example Warehouse subscribes to."""
        return self.registry.repo_url(IMAGE_REPOSITORY)

    @property
    def gitops_url(self) -> str:
        """The GitOps repository's URL, as the example PromotionTask names it."""
        return self.git.url_for(self.gitops)

    @property
    def kube_url(self) -> str:
        """The fake Kubernetes API holding the Argo CD Applications."""
        return self.kube.url

    def publish(self, version: str) -> str:
        """Push a new guestbook image version; returns its digest."""
        return push_image(self.registry, IMAGE_REPOSITORY, version)

    def promoted_version(self, stage: str) -> str | None:
        """The image tag the GitOps repository's ``main`` gives Stage ``stage``, if any.

        Read from git rather than from the simulated Argo CD: the repository outlives a
        restarted demo, while the Applications start afresh.
        """
        try:
            overlay = yaml.safe_load(
                self.gitops.git("show", f"main:env/{stage}/kustomization.yaml")
            )
        except RuntimeError:  # no such overlay: nothing is promoted there
            return None
        for image in (overlay or {}).get("images") or []:
            if image.get("newTag"):
                return str(image["newTag"])
        return None

    def published(self) -> list[str]:
        """The tags in the demo registry."""
        response = httpx.get(f"{self.registry.url}/v2/{IMAGE_REPOSITORY}/tags/list", timeout=5)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return sorted(response.json().get("tags") or [])


def _gitops_repository(root: Path, image: str) -> GitRemote:
    existing = root / f"{GITOPS_REPOSITORY}.git"
    if existing.exists():
        return GitRemote(git_dir=existing)
    remote = GitRemote.create(root, GITOPS_REPOSITORY)
    files: dict[str, str | None] = {
        "base/deployment.yaml": _BASE_DEPLOYMENT.format(image=image),
        "base/kustomization.yaml": _BASE_KUSTOMIZATION,
    }
    files.update(
        {f"env/{s}/kustomization.yaml": _STAGE_KUSTOMIZATION.format(stage=s) for s in STAGES}
    )
    remote.commit(
        "Guestbook deployment, one overlay per Stage",
        files,
        author=GitIdentity("kargo-dagster demo", "demo@kargo-dagster.invalid"),
        committer=GitIdentity("kargo-dagster demo", "demo@kargo-dagster.invalid"),
    )
    return remote


@contextmanager
def demo_services(
    home: Path,
    *,
    registry_port: int = REGISTRY_PORT,
    git_port: int = GIT_PORT,
    kube_port: int = KUBE_PORT,
    app_port: int = APP_PORT,
    publish_every: float = 0,
    fix_after: float | None = None,
) -> Iterator[DemoServices]:
    """Start the registry, the git server, the simulated Argo CD and the guestbook stand-in.

    With ``publish_every`` (seconds), a new guestbook version is published that often, so
    new Freight keeps arriving. With ``fix_after`` too, the versions tell the demo's story
    (see the module's docstring): a broken version waits until staging runs the version
    before it, and the version after a broken one comes ``fix_after`` seconds later. They all
    stop on exit.
    """
    with ExitStack() as stack:
        registry = stack.enter_context(
            LocalRegistry(port=registry_port, storage=home / "registry", temp_root=str(home))
        )
        gitops_root = home / "gitops"
        gitops = _gitops_repository(gitops_root, registry.repo_url(IMAGE_REPOSITORY))
        git = stack.enter_context(GitHTTPServer(gitops_root, port=git_port))
        kube = stack.enter_context(FakeKubeAPI(port=kube_port))
        for stage in STAGES:
            kube.add(
                application(
                    f"guestbook-{stage}",
                    git.url_for(gitops),
                    "main",
                    path=f"env/{stage}",
                    destination_namespace=f"guestbook-{stage}",
                    authorized_stage=f"{PROJECT}:{stage}",
                )
            )
        argocd = ArgoCDSimulator(kube)
        stack.enter_context(argocd.running())
        app = stack.enter_context(GuestbookApp(kube, gitops, broken=BROKEN_VERSIONS, port=app_port))
        services = DemoServices(
            registry=registry, git=git, gitops=gitops, kube=kube, argocd=argocd, app=app
        )
        if not services.published():
            for version in FIRST_VERSIONS:
                services.publish(version)
        if publish_every > 0:
            stack.enter_context(_Publisher(services, publish_every, fix_after=fix_after))
        yield services


def _version_tuple(tag: str) -> tuple[int, int, int] | None:
    if not _SEMVER.match(tag):
        return None
    major, minor, patch = (int(part) for part in tag[1:].split("."))
    return major, minor, patch


def newest_version(published: Iterable[str]) -> str | None:
    """The highest ``vX.Y.Z`` tag of ``published``, if any."""
    versions = [tag for tag in published if _version_tuple(tag) is not None]
    return max(versions, key=lambda tag: _version_tuple(tag) or (0, 0, 0), default=None)


def next_version(published: Iterable[str]) -> str:
    """The version after the newest of ``published``: its minor release, ``vX.(Y+1).0``."""
    newest = _version_tuple(newest_version(published) or "v0.0.0") or (0, 0, 0)
    return f"v{newest[0]}.{newest[1] + 1}.0"


class _Publisher:
    """Publishes the next guestbook version every ``interval`` seconds, on a daemon thread.

    With ``fix_after``, a broken version is published only once staging runs the newest
    version (so the verified gate visibly keeps a good version there), and the version after
    it only ``fix_after`` seconds after the broken one.
    """

    def __init__(
        self, services: DemoServices, interval: float, *, fix_after: float | None = None
    ) -> None:
        self._services = services
        self._interval = interval
        self._fix_after = fix_after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-publisher", daemon=True)

    def __enter__(self) -> "_Publisher":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._stop.wait(self._delay()):
                    return
                # Read again after the wait: someone may have published in the meantime.
                published = self._services.published()
                version = next_version(published)
                if self._fix_after is not None and version in BROKEN_VERSIONS:
                    if not self._staging_runs(newest_version(published)):
                        return
                self._services.publish(version)
            except httpx.HTTPError:
                # The registry is going away with the demo, or was slow to answer: the next
                # round tries again, an interval later.
                if self._stop.wait(self._interval):
                    return

    def _delay(self) -> float:
        """How long to wait before the next version: the fix of a broken one comes late."""
        if self._fix_after is not None and (
            newest_version(self._services.published()) in BROKEN_VERSIONS
        ):
            return self._fix_after
        return self._interval

    def _staging_runs(self, version: str | None) -> bool:
        """Wait until staging runs ``version``; False when the demo stops first."""
        # Poll often enough for a short test interval, rarely enough to cost nothing.
        every = min(self._interval, 5.0)
        while self._services.promoted_version(STAGES[1]) != version:
            if self._stop.wait(every):
                return False
        return True

"""Wiring the repository clients into ``Subscribers``, kept alive between sensor ticks.

The clients hold what makes a quiet tick cheap: registry tokens, digests and image configs
already read, Helm index validators, and git mirrors on disk. A sensor therefore asks the
process-wide ``subscriber_pool`` for its subscribers instead of building new ones each tick.
"""

import os
import threading
from collections.abc import Callable, Collection, Hashable
from pathlib import Path

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE
from kargo_dagster.clients.git.mirror import GitMirrors
from kargo_dagster.clients.helm_repo import HelmRepoClient
from kargo_dagster.clients.oci.client import RegistryClient
from kargo_dagster.credentials import CredentialStore
from kargo_dagster.discovery.chart import discover_charts
from kargo_dagster.discovery.git import discover_commits
from kargo_dagster.discovery.image import discover_images
from kargo_dagster.discovery.warehouse import Subscribers

WORK_DIR_ENV = "KARGO_DAGSTER_WORK_DIR"
DEFAULT_TIMEOUT_SECONDS = 10.0


def default_work_dir() -> Path:
    """``$KARGO_DAGSTER_WORK_DIR``, else ``$DAGSTER_HOME/kargo-dagster``, else the user cache."""
    chosen = os.environ.get(WORK_DIR_ENV)
    if not chosen and os.environ.get("DAGSTER_HOME"):
        chosen = str(Path(os.environ["DAGSTER_HOME"]) / "kargo-dagster")
    path = Path(chosen) if chosen else Path.home() / ".cache" / "kargo-dagster"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_subscribers(
    *,
    credentials: CredentialStore,
    work_dir: Path,
    insecure_registries: Collection[str] = (),
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    deadline: float = DEFAULT_REQUEST_DEADLINE,
) -> Subscribers:
    """Subscribers backed by real clients: OCI registries, Helm repositories, git mirrors.

    ``timeout`` bounds each read of an HTTP request, ``deadline`` each request in all.
    """
    registry = RegistryClient(
        credentials,
        timeout=timeout,
        deadline=deadline,
        insecure_registries=tuple(insecure_registries),
    )
    helm = HelmRepoClient(credentials, timeout=timeout, deadline=deadline)
    mirrors = GitMirrors(work_dir / "git", credentials)

    def oci_chart_tags(repository: str) -> list[str]:
        # Kargo looks helm credentials up by the chart's full oci:// URL.
        return registry.repository(f"oci://{repository}", kind="helm").list_tags()

    return Subscribers(
        images=lambda subscription: discover_images(subscription, registry),
        charts=lambda subscription: discover_charts(
            subscription, helm=helm, oci_tags=oci_chart_tags
        ),
        commits=lambda subscription: discover_commits(subscription, mirrors),
        requests_made=lambda: registry.requests_made + helm.requests_made,
    )


class SubscriberPool:
    """Subscribers by key (one per Warehouse and configuration), built once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[Hashable, Subscribers] = {}

    def get(self, key: Hashable, build: Callable[[], Subscribers]) -> Subscribers:
        """The subscribers for ``key``, made by ``build()`` on first use."""
        with self._lock:
            found = self._subscribers.get(key)
            if found is None:
                found = self._subscribers[key] = build()
            return found


subscriber_pool = SubscriberPool()

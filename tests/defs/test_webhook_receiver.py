"""The webhook receiver over real HTTP: a signed push records Freight at once (through a
ClusterConfig receiver, in every Project subscribed); anything else is refused, logged by
receiver name, and refreshes nothing; secrets never show."""

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from kargo_dagster.defs.refresh_queue import RefreshQueue
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.webhook_receiver import (
    ReceiverService,
    build_receiver_app,
    refresh_queue,
    running_receiver,
)
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing import webhook_senders as send
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.oci_push import push_image
from kargo_dagster.testing.registry import LocalRegistry
from kargo_dagster.webhooks.receivers import EnvironmentSecrets, build_receivers, secret_env_name
from kargo_dagster.webhooks.targets import SubscriptionIndex
from tests.webhooks.manifests import cluster_receivers, project, receiver, with_receivers

# Hang alarm only: a refresh of one loopback repository takes well under a second.
IDLE_ALARM_SECONDS = 120

WAREHOUSE = """\
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: {name}
  namespace: {project}
spec:
  subscriptions:
  - {subscription}
"""
GENERIC_ACTIONS = """\
      actions:
      - action: Refresh
        whenExpression: request.header("X-Event") == "push"
        targetSelectionCriteria:
        - kind: Warehouse
          indexSelector:
            matchIndices:
            - key: subscribedURLs
              operator: Equal
              value: ${{ normalizeImage(request.body.repository) }}
"""


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as server:
        yield server


@pytest.fixture(scope="module")
def git_server(tmp_path_factory) -> Iterator[GitHTTPServer]:
    with GitHTTPServer(tmp_path_factory.mktemp("remotes")) as server:
        yield server


@dataclass
class Served:
    """A receiver running on loopback."""

    base: str
    path: str
    secret: str
    queue: RefreshQueue

    def post(self, delivery: send.Delivery, path: str | None = None) -> httpx.Response:
        url = self.base + (path or self.path)
        return httpx.post(url, content=delivery.body, headers=delivery.headers, timeout=30)

    def settle(self) -> None:
        assert self.queue.wait_idle(IDLE_ALARM_SECONDS), "refreshes still running"


@contextmanager
def serving(
    tmp_path: Path, instance: Any, kind: str, warehouses: str, *, extra: str = ""
) -> Iterator[Served]:
    text = with_receivers(receiver(kind, secret="hook-secret") + extra) + warehouses
    with serving_manifests(tmp_path, instance, text) as served:
        yield served


@contextmanager
def serving_manifests(tmp_path: Path, instance: Any, text: str) -> Iterator[Served]:
    """Serve the one receiver ``text`` declares, whose Secret is ``hook-secret``."""
    folder = tmp_path / "stages"
    folder.mkdir(exist_ok=True)
    (folder / "demo.yaml").write_text(text)
    catalog = load_manifests(folder)
    secret = f"s3cret-{uuid.uuid4().hex}"
    secrets = EnvironmentSecrets({secret_env_name("hook-secret"): secret})
    receivers, problems = build_receivers(
        catalog.projects.values(), secrets, cluster_config=catalog.cluster_config
    )
    assert problems == []
    [path] = receivers
    kargo = KargoResource(work_dir=str(tmp_path / "work"))
    queue = refresh_queue(instance, kargo, catalog)
    index = SubscriptionIndex(catalog.projects.values())
    app = build_receiver_app(ReceiverService(receivers, catalog, index, queue))
    try:
        with running_receiver(app) as base:
            yield Served(base, path, secret, queue)
    finally:
        queue.close()


def warehouse(name: str, subscription: str, project: str = "demo") -> str:
    return WAREHOUSE.format(name=name, subscription=subscription, project=project)


def recorded(instance: dg.DagsterInstance, name: str = "app", project: str = "demo") -> list[str]:
    return list(instance.get_dynamic_partitions(f"{project}/{name}"))


def unique(prefix: str) -> str:
    return f"{prefix}/app-{uuid.uuid4().hex[:8]}"


ImageDelivery = Callable[[LocalRegistry, str, str, str], send.Delivery]
IMAGE_SENDERS: dict[str, ImageDelivery] = {
    "dockerhub": lambda reg, name, tag, secret: send.dockerhub_push(reg.repo_url(name), tag),
    "quay": lambda reg, name, tag, secret: send.quay_push(reg.repo_url(name), [tag]),
    "harbor": lambda reg, name, tag, secret: send.harbor_push(
        f"{reg.repo_url(name)}:{tag}", tag, secret
    ),
    "artifactory": lambda reg, name, tag, secret: send.artifactory_push(
        f"http://{reg.host}", name.split("/")[0], name.split("/", 1)[1], tag, secret
    ),
    "azure": lambda reg, name, tag, secret: send.acr_push(reg.host, name, tag),
    "github": lambda reg, name, tag, secret: send.github_package(reg.repo_url(name), tag, secret),
    "generic": lambda reg, name, tag, secret: send.generic_post(
        {"repository": reg.repo_url(name)}, {"X-Event": "push"}
    ),
}


@pytest.mark.parametrize("kind", sorted(IMAGE_SENDERS))
def test_a_registry_push_records_the_new_image_as_freight(
    kind, tmp_path, registry, instance, caplog
):
    caplog.set_level(logging.INFO, logger="kargo_dagster.webhooks")
    name = unique("hooks")
    push_image(registry, name, "v1.0.0")
    extra = GENERIC_ACTIONS if kind == "generic" else ""
    image = warehouse("app", f"image: {{repoURL: {registry.repo_url(name)}}}")
    with serving(tmp_path, instance, kind, image, extra=extra) as served:
        push_image(registry, name, "v1.1.0")
        response = served.post(IMAGE_SENDERS[kind](registry, name, "v1.1.0", served.secret))
        assert response.status_code == 200, response.text
        served.settle()
        [key] = recorded(instance)
        assert "v1.1.0" in key
        assert f"Warehouse demo/app: created Freight {key}" in caplog.text
        shown = caplog.text + response.text
        assert served.secret not in shown and served.path.rsplit("/", 1)[1] not in shown


GitDelivery = Callable[[str, str, str], send.Delivery]
GIT_SENDERS: dict[str, GitDelivery] = {
    "github": lambda url, ref, secret: send.github_push(url, ref, secret, changed=["app.txt"]),
    "gitlab": lambda url, ref, secret: send.gitlab_push(url, ref, secret, changed=["app.txt"]),
    "gitea": send.gitea_push,
    "bitbucket": send.bitbucket_refs_changed,
    "azure": lambda url, ref, secret: send.azure_devops_push(url, ref),
}


@pytest.mark.parametrize("kind", sorted(GIT_SENDERS))
def test_a_git_push_records_the_new_commit_as_freight(kind, tmp_path, git_server, instance, caplog):
    caplog.set_level(logging.INFO, logger="kargo_dagster.webhooks")
    remote = GitRemote.create(git_server.root, f"{kind}-{uuid.uuid4().hex[:8]}")
    first = remote.commit("first", {"app.txt": "1"})
    url = git_server.url_for(remote)
    with serving(
        tmp_path, instance, kind, warehouse("app", f"git: {{repoURL: '{url}'}}")
    ) as served:
        second = remote.commit("second", {"app.txt": "2"})
        response = served.post(GIT_SENDERS[kind](url, "refs/heads/main", served.secret))
        assert response.status_code == 200, response.text
        served.settle()
        [key] = recorded(instance)
        assert second[:7] in key and first[:7] not in key
        assert served.secret not in caplog.text + response.text


FORGED: dict[str, Callable[[send.Delivery], send.Delivery]] = {
    "unsigned": lambda d: send.Delivery(
        d.body, {k: v for k, v in d.headers.items() if k != "X-Hub-Signature-256"}
    ),
    "forged": lambda d: send.Delivery(
        d.body, {**d.headers, "X-Hub-Signature-256": "sha256=" + "ab" * 32}
    ),
    "tampered": lambda d: send.Delivery(d.body.replace(b"published", b"updated"), d.headers),
}


@pytest.mark.parametrize("how", sorted(FORGED))
def test_a_forged_request_is_refused_logged_and_discovers_nothing(
    how, tmp_path, registry, instance, caplog
):
    caplog.set_level(logging.INFO, logger="kargo_dagster.webhooks")
    name = unique("forged")
    push_image(registry, name, "v1.0.0")
    image = warehouse("app", f"image: {{repoURL: {registry.repo_url(name)}}}")
    with serving(tmp_path, instance, "github", image) as served:
        genuine = send.github_package(registry.repo_url(name), "v1.0.0", served.secret)
        response = served.post(FORGED[how](genuine))
        assert response.status_code == 401
        served.settle()
        assert recorded(instance) == []
        assert "webhook receiver demo/hook (github) refused a request: 401" in caplog.text
        assert "Warehouse demo/app" not in caplog.text
        shown = caplog.text + response.text
        assert served.secret not in shown and served.path.rsplit("/", 1)[1] not in shown


def test_unknown_paths_and_wrong_url_secrets_are_404s(tmp_path, registry, instance):
    name = unique("paths")
    push_image(registry, name, "v1.0.0")
    image = warehouse("app", f"image: {{repoURL: {registry.repo_url(name)}}}")
    with serving(tmp_path, instance, "dockerhub", image) as served:
        delivery = send.dockerhub_push(registry.repo_url(name), "v1.0.0")
        assert served.post(delivery, "/dockerhub/" + "0" * 64).status_code == 404
        assert httpx.get(served.base + "/healthz").status_code == 200
        served.settle()
        assert recorded(instance) == []


def test_a_burst_of_pushes_for_one_warehouse_is_coalesced(tmp_path, registry, instance, caplog):
    caplog.set_level(logging.INFO, logger="kargo_dagster.webhooks")
    name = unique("burst")
    push_image(registry, name, "v1.0.0")
    image = warehouse("app", f"image: {{repoURL: {registry.repo_url(name)}}}")
    with serving(tmp_path, instance, "quay", image) as served:
        push_image(registry, name, "v1.1.0")
        delivery = send.quay_push(registry.repo_url(name), ["v1.1.0"])
        statuses: list[int] = []
        posts = [
            threading.Thread(target=lambda: statuses.append(served.post(delivery).status_code))
            for _ in range(8)
        ]
        for post in posts:
            post.start()
        for post in posts:
            post.join()
        served.settle()
        assert statuses == [200] * 8
        assert recorded(instance) == [key for key in recorded(instance) if "v1.1.0" in key]
        refreshes = caplog.text.count("Warehouse demo/app:")
        assert 1 <= refreshes <= 2


class CountingInstance:
    """The Dagster instance, counting the calls made to it."""

    def __init__(self, inner: dg.DagsterInstance) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted


def test_among_hundreds_of_warehouses_only_the_subscribed_one_is_refreshed(
    tmp_path, registry, instance, caplog
):
    caplog.set_level(logging.INFO, logger="kargo_dagster.webhooks")
    name = unique("many")
    push_image(registry, name, "v1.0.0")
    others = "".join(
        warehouse(f"other-{i:03}", f"image: {{repoURL: {registry.repo_url(name)}-{i}}}")
        for i in range(300)
    )
    image = warehouse("app", f"image: {{repoURL: {registry.repo_url(name)}}}")
    counting = CountingInstance(instance)
    with serving(tmp_path, counting, "dockerhub", others + image) as served:
        response = served.post(send.dockerhub_push(registry.repo_url(name), "v1.0.0"))
        assert response.json() == {"msg": "refreshed 1 warehouse(s)"}
        served.settle()
    assert len(recorded(instance)) == 1
    assert recorded(instance, "other-007") == []
    assert caplog.text.count("Warehouse demo/") == 1
    # One Warehouse's Freight recorded: a few calls, not one per Warehouse.
    assert sum(counting.calls.values()) <= 5, counting.calls


def test_a_secret_echoed_in_a_payload_is_masked_in_logs(tmp_path, registry, instance, caplog):
    caplog.set_level(logging.INFO, logger="kargo_dagster.webhooks")
    name = unique("echo")
    image = warehouse("app", f"image: {{repoURL: {registry.repo_url(name)}}}")
    with serving(tmp_path, instance, "quay", image) as served:
        echoed = send.quay_push(f"quay.io/{served.secret}/app", ["v1"])
        response = served.post(echoed)
        assert response.json() == {"msg": "refreshed 0 warehouse(s)"}
        served.settle()
    assert "push event for quay.io/" in caplog.text
    assert served.secret not in caplog.text


def cluster_manifests(kind: str, repo_url: str, *, unsubscribed: int = 0) -> str:
    """Projects demo and other, each with Warehouse app subscribed to ``repo_url`` and
    ``unsubscribed`` more that are not, and a ClusterConfig receiver of ``kind``."""
    extra = GENERIC_ACTIONS if kind == "generic" else ""
    text = project("demo") + project("other")
    for owner in ("demo", "other"):
        text += warehouse("app", f"image: {{repoURL: {repo_url}}}", owner)
        text += "".join(
            warehouse(f"w{i:03}", f"image: {{repoURL: {repo_url}-{i}}}", owner)
            for i in range(unsubscribed)
        )
    return text + cluster_receivers(receiver(kind, secret="hook-secret") + extra)


CLUSTER_SENDERS = {k: IMAGE_SENDERS[k] for k in ("generic", "github")}


@pytest.mark.parametrize("kind", sorted(CLUSTER_SENDERS))
def test_a_cluster_receiver_push_records_freight_in_every_subscribed_project(
    kind, tmp_path, registry, instance, caplog
):
    caplog.set_level(logging.INFO, logger="kargo_dagster.webhooks")
    name = unique("cluster")
    push_image(registry, name, "v1.0.0")
    counting = CountingInstance(instance)
    manifests = cluster_manifests(kind, registry.repo_url(name), unsubscribed=100)
    with serving_manifests(tmp_path, counting, manifests) as served:
        push_image(registry, name, "v1.1.0")
        response = served.post(CLUSTER_SENDERS[kind](registry, name, "v1.1.0", served.secret))
        assert response.status_code == 200, response.text
        served.settle()
    for owner in ("demo", "other"):
        [key] = recorded(instance, project=owner)
        assert "v1.1.0" in key
        assert f"Warehouse {owner}/app: created Freight {key}" in caplog.text
    assert recorded(instance, "w007", "other") == []
    assert f"webhook receiver ClusterConfig/hook ({kind})" in caplog.text
    assert "refreshing demo/app, other/app" in caplog.text
    if kind == "generic":
        [result] = response.json()["results"]
        assert [(t["namespace"], t["name"]) for t in result["selectedTargets"]] == [
            ("demo", "app"),
            ("other", "app"),
        ]
    else:
        assert response.json() == {"msg": "refreshed 2 warehouse(s)"}
    # Two Warehouses' Freight recorded: a few calls each, none per Warehouse looked over.
    assert sum(counting.calls.values()) <= 10, counting.calls
    shown = caplog.text + response.text
    assert served.secret not in shown and served.path.rsplit("/", 1)[1] not in shown


def test_a_forged_request_to_a_cluster_receiver_is_refused(tmp_path, registry, instance, caplog):
    caplog.set_level(logging.INFO, logger="kargo_dagster.webhooks")
    name = unique("cluster-forged")
    push_image(registry, name, "v1.0.0")
    with serving_manifests(
        tmp_path, instance, cluster_manifests("github", registry.repo_url(name))
    ) as served:
        genuine = send.github_package(registry.repo_url(name), "v1.0.0", served.secret)
        response = served.post(FORGED["forged"](genuine))
        assert response.status_code == 401
        served.settle()
    assert recorded(instance) == [] and recorded(instance, project="other") == []
    assert "webhook receiver ClusterConfig/hook (github) refused a request: 401" in caplog.text
    assert "Warehouse " not in caplog.text

"""The real clients wired together: one Warehouse with every kind of subscription."""

from pathlib import Path

from kargo_dagster.credentials import NO_CREDENTIALS
from kargo_dagster.discovery.subscribers import build_subscribers
from kargo_dagster.discovery.warehouse import discover_warehouse
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.helm_repo import HelmRepoServer
from kargo_dagster.testing.oci_push import push_chart, push_image
from kargo_dagster.testing.registry import LocalRegistry
from tests.manifests import manifests_yaml, project
from tests.manifests import warehouse as warehouse_manifest


def test_one_pass_over_every_kind_of_subscription(tmp_path: Path):
    remotes = tmp_path / "remotes"
    remotes.mkdir()
    repo = GitRemote.create(remotes, "config")
    repo.commit("initial", {"a.yaml": "a: 1"})
    head = repo.commit("second", {"a.yaml": "a: 2"})
    with (
        LocalRegistry() as registry,
        HelmRepoServer({"web": ["1.0.0", "1.2.0", "2.0.0-rc.1"]}) as helm,
        GitHTTPServer(remotes) as git,
    ):
        push_image(registry, "apps/api", "v1.0.0")
        push_image(registry, "apps/api", "v1.1.0")
        push_chart(registry, "charts/api", "0.1.0")
        push_chart(registry, "charts/api", "0.2.0")
        everything = warehouse_manifest(
            "everything",
            "demo",
            image=registry.repo_url("apps/api"),
            subscriptions=[
                {"chart": {"repoURL": f"oci://{registry.repo_url('charts/api')}"}},
                {"chart": {"repoURL": helm.url, "name": "web"}},
                {"git": {"repoURL": git.url_for(repo), "branch": "main"}},
            ],
        )
        (tmp_path / "w.yaml").write_text(manifests_yaml(project("demo"), everything))
        warehouse = load_manifests(tmp_path / "w.yaml").projects["demo"].warehouses["everything"]
        subscribers = build_subscribers(credentials=NO_CREDENTIALS, work_dir=tmp_path / "work")
        result = discover_warehouse(warehouse, subscribers)
    assert not result.failed, result.errors
    assert result.freight is not None
    assert [i.tag for i in result.freight.images] == ["v1.1.0"]
    assert [(c.repo_url, c.name, c.version) for c in result.freight.charts] == [
        (f"oci://{registry.repo_url('charts/api')}", "", "0.2.0"),
        (helm.url, "web", "2.0.0-rc.1"),
    ]
    assert [c.id for c in result.freight.commits] == [head]
    assert subscribers.requests_made() > 0

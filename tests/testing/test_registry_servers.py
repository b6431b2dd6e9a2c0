"""The test registry servers themselves: lifecycle, push helpers, auth front, scripted answers."""

import os
from pathlib import Path

import httpx
import pytest

from kargo_dagster.clients.oci import OCI_INDEX, OCI_MANIFEST
from kargo_dagster.testing.oci_push import (
    HELM_CHART_LAYER,
    HELM_CONFIG,
    chart_archive,
    digest_of,
    push_blob,
    push_chart,
    push_index,
)
from kargo_dagster.testing.registry import LocalRegistry, RegistryServerError
from kargo_dagster.testing.scripted_registry import ScriptedRegistry
from kargo_dagster.testing.token_auth import TokenAuthRegistry

ACCEPT = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; it is dead for our purposes once reaped.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_local_registry_starts_and_stops_its_process(tmp_path: Path):
    with LocalRegistry(temp_root=str(tmp_path)) as registry:
        pid = registry.pid
        assert pid is not None and _alive(pid)
        assert httpx.get(f"{registry.url}/v2/").status_code == 200
        assert registry.repo_url("a/b") == f"{registry.host}/a/b"
        assert list(tmp_path.iterdir())  # its storage lives under temp_root
    assert not _alive(pid)
    assert registry.pid is None
    assert list(tmp_path.iterdir()) == []


def test_missing_registry_binary_fails_loudly(tmp_path: Path):
    with pytest.raises(RegistryServerError, match="apt-get install -y docker-registry"):
        LocalRegistry(binary=str(tmp_path / "no-registry")).start()


def test_push_chart_lays_out_a_helm_chart():
    with LocalRegistry() as registry, httpx.Client(base_url=registry.url) as http:
        digest = push_chart(registry, "charts/demo", "0.1.0", app_version="2.0")
        response = http.get("/v2/charts/demo/manifests/0.1.0", headers=ACCEPT)
        manifest = response.json()
        assert response.headers["docker-content-digest"] == digest
        assert manifest["config"]["mediaType"] == HELM_CONFIG
        assert [layer["mediaType"] for layer in manifest["layers"]] == [HELM_CHART_LAYER]
        config = http.get(f"/v2/charts/demo/blobs/{manifest['config']['digest']}").json()
        assert (config["name"], config["version"], config["appVersion"]) == ("demo", "0.1.0", "2.0")
        layer = http.get(f"/v2/charts/demo/blobs/{manifest['layers'][0]['digest']}").content
        assert layer == chart_archive("demo", "0.1.0", "2.0")


def test_push_blob_skips_blobs_the_registry_has():
    with LocalRegistry() as registry:
        data = b"some bytes"
        assert push_blob(registry, "blobs/x", data) == digest_of(data)
        assert push_blob(registry.url, "blobs/x", data) == digest_of(data)
        assert httpx.get(f"{registry.url}/v2/blobs/x/blobs/{digest_of(data)}").content == data


def test_push_index_with_an_attestation():
    with LocalRegistry() as registry:
        pushed = push_index(registry, "multi/x", "v1", ["linux/amd64"], attestation=True)
        index = httpx.get(f"{registry.url}/v2/multi/x/manifests/v1", headers=ACCEPT).json()
    assert [m["platform"] for m in index["manifests"]] == [
        {"os": "linux", "architecture": "amd64"},
        {"os": "unknown", "architecture": "unknown"},
    ]
    assert index["manifests"][0]["digest"] == pushed.platforms["linux/amd64"]


def test_token_auth_front_challenges_and_proxies():
    with LocalRegistry() as registry, TokenAuthRegistry(registry, "u", "p") as front:
        push_chart(registry, "charts/demo", "0.1.0")
        refused = httpx.get(f"{front.url}/v2/charts/demo/tags/list")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == (
            f'Bearer realm="{front.url}/token",service="kargo-dagster-test",'
            'scope="repository:charts/demo:pull"'
        )
        assert httpx.get(f"{front.url}/token", auth=("u", "wrong")).status_code == 401
        token = httpx.get(
            f"{front.url}/token", params={"scope": "repository:charts/demo:pull"}, auth=("u", "p")
        ).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        listed = httpx.get(f"{front.url}/v2/charts/demo/tags/list", headers=bearer)
        assert listed.json()["tags"] == ["0.1.0"]
        # A token is good for its repository only.
        assert httpx.get(f"{front.url}/v2/other/tags/list", headers=bearer).status_code == 401
        head = httpx.head(f"{front.url}/v2/charts/demo/manifests/0.1.0", headers=bearer | ACCEPT)
        assert head.status_code == 200 and head.headers["docker-content-digest"].startswith(
            "sha256:"
        )
    assert front.counts == {"challenged": 2, "token": 2, "proxied": 2}


def test_scripted_registry_answers_what_it_is_told():
    with ScriptedRegistry() as server:
        server.script("/v2/app/tags/list", status=429, headers={"Retry-After": "3"})
        server.script("/v2/app/tags/list?n=1", body={"tags": ["a"]})
        exact = httpx.get(f"{server.url}/v2/app/tags/list?n=1")
        assert exact.json() == {"tags": ["a"]}
        other = httpx.get(f"{server.url}/v2/app/tags/list?n=2")
        assert (other.status_code, other.headers["retry-after"]) == (429, "3")
        assert httpx.get(f"{server.url}/v2/nothing/tags/list").status_code == 404
    assert server.requests == [
        ("GET", "/v2/app/tags/list?n=1"),
        ("GET", "/v2/app/tags/list?n=2"),
        ("GET", "/v2/nothing/tags/list"),
    ]

"""The Helm repository fake's chart archives and HTTPS, what ``helm dependency update`` needs."""

import hashlib
import ssl
from pathlib import Path

import httpx
import yaml

from kargo_dagster.testing.helm_repo import HelmRepoServer
from kargo_dagster.testing.oci_push import chart_archive
from kargo_dagster.testing.tls_certificate import self_signed_certificate


def test_archives_are_served_with_their_digests_in_the_index():
    with HelmRepoServer({"lib": ["1.0.0", "1.1.0"]}, path="/charts", archives=True) as repo:
        index = yaml.safe_load(httpx.get(repo.index_url).text)
        entry = next(e for e in index["entries"]["lib"] if e["version"] == "1.1.0")
        archive = httpx.get(entry["urls"][0])
        missing = httpx.get(f"{repo.url}/charts/lib-9.9.9.tgz")
    assert entry["urls"] == [f"{repo.url}/charts/lib-1.1.0.tgz"]
    assert archive.content == chart_archive("lib", "1.1.0")
    assert entry["digest"] == hashlib.sha256(archive.content).hexdigest()
    assert missing.status_code == 404
    assert repo.index_downloads == 1  # archives are not index downloads
    assert [r.status for r in repo.requests] == [200, 200, 404]


def test_without_archives_only_the_index_is_served():
    with HelmRepoServer({"lib": ["1.0.0"]}) as repo:
        assert httpx.get(f"{repo.url}/charts/lib-1.0.0.tgz").status_code == 404


def test_https_with_basic_authentication(tmp_path: Path):
    cert, key = self_signed_certificate(tmp_path)
    with HelmRepoServer({"lib": ["1.0.0"]}, username="bot", password="pw", tls=(cert, key)) as repo:
        assert repo.url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=cert)
        refused = httpx.get(repo.index_url, verify=trusted)
        allowed = httpx.get(repo.index_url, verify=trusted, auth=("bot", "pw"))
    assert (refused.status_code, allowed.status_code) == (401, 200)
    assert [r.authorization for r in repo.requests] == ["", "Basic Ym90OnB3"]

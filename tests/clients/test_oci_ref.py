"""Image repository URLs: registry host, repository path, and when plain HTTP is allowed."""

import pytest

from kargo_dagster.clients.oci.registry_ref import parse_repo_url
from kargo_dagster.errors import DiscoveryError


@pytest.mark.parametrize(
    ("repo_url", "host", "repository"),
    [
        ("ghcr.io/org/app", "ghcr.io", "org/app"),
        ("docker.io/library/nginx", "registry-1.docker.io", "library/nginx"),
        ("docker.io/nginx", "registry-1.docker.io", "library/nginx"),
        ("index.docker.io/bitnami/redis", "registry-1.docker.io", "bitnami/redis"),
        ("nginx", "registry-1.docker.io", "library/nginx"),
        ("bitnami/redis", "registry-1.docker.io", "bitnami/redis"),
        ("localhost:5000/app", "localhost:5000", "app"),
        ("localhost/app", "localhost", "app"),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app"),
        ("[::1]:5000/app", "[::1]:5000", "app"),
        ("registry.example.com:8443/a/b/c", "registry.example.com:8443", "a/b/c"),
        ("oci://ghcr.io/akuity/charts/kargo", "ghcr.io", "akuity/charts/kargo"),
        ("GHCR.io/Org/App/", "ghcr.io", "org/app"),
        ("quay.io/my_org/my-app.v2", "quay.io", "my_org/my-app.v2"),
    ],
)
def test_parse_repo_url(repo_url: str, host: str, repository: str):
    ref = parse_repo_url(repo_url)
    assert (ref.host, ref.repository, ref.repo_url) == (host, repository, repo_url)


@pytest.mark.parametrize(
    ("repo_url", "message"),
    [
        ("ghcr.io/org/app:v1", "must not include a tag"),
        ("nginx:latest", "must not include a tag"),
        ("ghcr.io/org/app@sha256:" + "a" * 64, "must not carry a digest"),
        ("ghcr.io/org/-app", "not a valid repository name"),
        ("ghcr.io//app", "not a valid repository name"),
        ("bad_host.io:x/app", "invalid registry"),
    ],
)
def test_parse_repo_url_rejects(repo_url: str, message: str):
    with pytest.raises(DiscoveryError, match=message):
        parse_repo_url(repo_url)


@pytest.mark.parametrize(
    ("repo_url", "insecure", "base_url"),
    [
        ("localhost:5000/app", (), "http://localhost:5000"),
        ("127.0.0.1:5000/app", (), "http://127.0.0.1:5000"),
        ("127.10.0.3:5000/app", (), "http://127.10.0.3:5000"),
        ("[::1]:5000/app", (), "http://[::1]:5000"),
        ("10.0.0.5:5000/app", (), "https://10.0.0.5:5000"),
        ("registry.internal:5000/app", (), "https://registry.internal:5000"),
        (
            "registry.internal:5000/app",
            ("registry.internal:5000",),
            "http://registry.internal:5000",
        ),
        ("registry.internal:5000/app", ("registry.internal",), "http://registry.internal:5000"),
        (
            "registry.internal:5000/app",
            ("registry.internal:6000",),
            "https://registry.internal:5000",
        ),
        ("ghcr.io/org/app", (), "https://ghcr.io"),
        ("nginx", (), "https://registry-1.docker.io"),
    ],
)
def test_plain_http_only_for_loopback_and_insecure_registries(
    repo_url: str, insecure: tuple[str, ...], base_url: str
):
    assert parse_repo_url(repo_url).base_url(insecure) == base_url

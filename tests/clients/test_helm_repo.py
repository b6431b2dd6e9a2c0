"""The Helm repository client against a real HTTP server on loopback."""

import email.utils
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml
from pydantic import SecretStr

from kargo_dagster.clients.helm_index import ChartIndex, parse_index
from kargo_dagster.clients.helm_repo import ChartNotFoundError, HelmRepoClient, index_url
from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.errors import RepositoryError
from kargo_dagster.testing.helm_repo import HelmRepoServer, large_index
from kargo_dagster.testing.registry import free_port

PASSWORD = "s3cr3t-Pa55word-never-shown"
CHARTS = {"app": ["1.0.0", "1.10", "v1.2.0", "2.0.0-rc.1"], "db": ["0.1.0"]}


def helm_credentials(repo_url: str, password: str = PASSWORD) -> StaticCredentialStore:
    return StaticCredentialStore(
        (CredentialRule("helm", repo_url, Credentials("robot", SecretStr(password))),)
    )


@pytest.fixture
def repo() -> Iterator[HelmRepoServer]:
    with HelmRepoServer(CHARTS) as server:
        yield server


@pytest.fixture
def client() -> Iterator[HelmRepoClient]:
    with HelmRepoClient(timeout=5.0) as helm:
        yield helm


def test_versions_come_from_the_index_in_index_order(repo: HelmRepoServer, client: HelmRepoClient):
    # 1.10 stays text: a float would make it 1.1.
    assert client.chart_versions(repo.url, "app") == CHARTS["app"]
    assert client.chart_versions(repo.url + "/", "db") == ["0.1.0"]
    assert [r.path for r in repo.requests] == ["/index.yaml", "/index.yaml"]


def test_a_repository_below_a_path():
    with HelmRepoServer({"app": ["1.0.0"]}, path="/charts/stable") as repo:
        assert repo.url.endswith("/charts/stable")
        with HelmRepoClient() as client:
            assert client.chart_versions(repo.url, "app") == ["1.0.0"]
        assert repo.requests[0].path == "/charts/stable/index.yaml"


@pytest.mark.parametrize(
    ("repo_url", "expected"),
    [
        ("https://charts.example.com", "https://charts.example.com/index.yaml"),
        ("https://charts.example.com/", "https://charts.example.com/index.yaml"),
        ("https://example.com/a/b", "https://example.com/a/b/index.yaml"),
    ],
)
def test_index_url(repo_url: str, expected: str):
    assert index_url(repo_url) == expected


@pytest.mark.parametrize(
    ("etag", "last_modified", "header"),
    [
        (True, True, "if-none-match"),
        (True, False, "if-none-match"),
        (False, True, "if-modified-since"),
    ],
)
def test_an_unchanged_index_is_not_downloaded_again(etag: bool, last_modified: bool, header: str):
    with HelmRepoServer(CHARTS, etag=etag, last_modified=last_modified) as repo:
        with HelmRepoClient() as client:
            first = client.chart_versions(repo.url, "app")
            second = client.chart_versions(repo.url, "app")
            # Another chart of the same repository reuses the same index.
            assert client.chart_versions(repo.url, "db") == ["0.1.0"]
            assert first == second == CHARTS["app"]
            assert client.requests_made == 3
            assert client.downloads == 1
        assert repo.index_downloads == 1
        assert repo.not_modified == 2
        assert header not in repo.requests[0].headers
        assert header in repo.requests[1].headers


def test_without_validators_every_poll_downloads():
    with HelmRepoServer(CHARTS, etag=False, last_modified=False) as repo:
        with HelmRepoClient() as client:
            client.chart_versions(repo.url, "app")
            client.chart_versions(repo.url, "app")
        assert repo.index_downloads == 2
        assert "if-none-match" not in repo.requests[1].headers
        assert "if-modified-since" not in repo.requests[1].headers


@pytest.mark.parametrize("etag", [True, False])
def test_a_new_version_is_seen_on_the_next_poll(etag: bool):
    with HelmRepoServer({"app": ["1.0.0"]}, etag=etag) as repo:
        with HelmRepoClient() as client:
            assert client.chart_versions(repo.url, "app") == ["1.0.0"]
            repo.add_version("app", "1.1.0")
            assert client.chart_versions(repo.url, "app") == ["1.0.0", "1.1.0"]
            assert client.chart_versions(repo.url, "app") == ["1.0.0", "1.1.0"]
        assert repo.index_downloads == 2
        assert repo.not_modified == 1


def test_basic_auth_with_the_right_credentials():
    with HelmRepoServer(CHARTS, username="robot", password=PASSWORD) as repo:
        with HelmRepoClient(helm_credentials(repo.url)) as client:
            assert client.chart_versions(repo.url, "db") == ["0.1.0"]
            assert client.chart_versions(repo.url, "db") == ["0.1.0"]
        assert repo.requests[0].headers["authorization"].startswith("Basic ")
        assert repo.not_modified == 1


def test_credentials_in_the_url_are_used_and_never_shown():
    with HelmRepoServer(CHARTS, username="robot", password=PASSWORD) as repo:
        authed = repo.url.replace("http://", f"http://robot:{PASSWORD}@")
        with HelmRepoClient() as client:
            assert client.chart_versions(authed, "db") == ["0.1.0"]
            with pytest.raises(ChartNotFoundError) as missing:
                client.chart_versions(authed, "nope")
            repo.fail(500)
            with pytest.raises(RepositoryError) as failed:
                client.chart_versions(authed, "db")
    for error in (missing.value, failed.value):
        assert PASSWORD not in str(error)
        assert "robot:xxxxx@127.0.0.1" in str(error)


@pytest.mark.parametrize(
    ("store_password", "expected"),
    [
        ("wrong-password", "the configured helm credentials were not accepted"),
        (None, "it requires credentials; configure helm credentials"),
    ],
)
def test_refused_credentials(store_password: str | None, expected: str):
    with HelmRepoServer(CHARTS, username="robot", password=PASSWORD) as repo:
        store = helm_credentials(repo.url, store_password) if store_password else None
        with HelmRepoClient(store or StaticCredentialStore()) as client:
            with pytest.raises(RepositoryError) as caught:
                client.chart_versions(repo.url, "app")
    message = str(caught.value)
    assert "HTTP 401" in message
    assert expected in message
    assert repo.url in message
    assert PASSWORD not in message
    assert "wrong-password" not in message


def test_a_redirect_to_another_host_does_not_carry_the_credentials():
    with HelmRepoServer(CHARTS) as target, HelmRepoServer(CHARTS) as origin:
        origin.fail(302, headers={"Location": target.index_url})
        with HelmRepoClient(helm_credentials(origin.url)) as client:
            assert client.chart_versions(origin.url, "app") == CHARTS["app"]
            assert client.requests_made == 2
        assert "authorization" in origin.requests[0].headers
        assert "authorization" not in target.requests[0].headers


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    ("status", "headers", "message", "retry_after"),
    [
        (403, {}, "denied access (HTTP 403)", None),
        (404, {}, "has no index at http://127.0.0.1", None),
        (429, {"Retry-After": "17"}, "rate limiting requests (HTTP 429)", 17.0),
        (429, {}, "rate limiting requests (HTTP 429)", None),
        (500, {}, "failed with HTTP 500", None),
        (503, {"Retry-After": "5"}, "failed with HTTP 503", 5.0),
        (418, {}, "answered HTTP 418", None),
        (304, {}, "answered HTTP 304", None),  # a 304 to an unconditional request
    ],
)
def test_error_statuses(
    status: int, headers: dict[str, str], message: str, retry_after: float | None
):
    with HelmRepoServer(CHARTS, username="robot", password=PASSWORD) as repo:
        repo.fail(status, headers=headers, body=f"boom {PASSWORD}".encode())
        with HelmRepoClient(helm_credentials(repo.url)) as client:
            with pytest.raises(RepositoryError) as caught:
                client.chart_versions(repo.url, "app")
    assert message in str(caught.value)
    assert repr(repo.url) in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert caught.value.retry_after == retry_after


def test_retry_after_as_an_http_date():
    with HelmRepoServer(CHARTS) as repo:
        repo.fail(429, headers={"Retry-After": _http_date(120)})
        with HelmRepoClient() as client, pytest.raises(RepositoryError) as caught:
            client.chart_versions(repo.url, "app")
    assert caught.value.retry_after is not None
    assert 100 < caught.value.retry_after <= 120


def test_a_failure_does_not_spoil_the_cache():
    with HelmRepoServer(CHARTS) as repo:
        with HelmRepoClient() as client:
            client.chart_versions(repo.url, "app")
            repo.fail(502, times=1)
            with pytest.raises(RepositoryError, match="HTTP 502"):
                client.chart_versions(repo.url, "app")
            assert client.chart_versions(repo.url, "app") == CHARTS["app"]
        assert repo.index_downloads == 1
        assert repo.not_modified == 1


def test_a_slow_repository_times_out():
    with HelmRepoServer(CHARTS) as repo:
        repo.delay = 2.0
        with HelmRepoClient(timeout=0.2) as client, pytest.raises(RepositoryError) as caught:
            client.chart_versions(repo.url, "app")
    assert "did not answer within 0.2 s" in str(caught.value)
    assert repr(repo.url) in str(caught.value)


def test_a_refused_connection():
    url = f"http://127.0.0.1:{free_port()}/charts"
    with HelmRepoClient(helm_credentials(url)) as client, pytest.raises(RepositoryError) as caught:
        client.chart_versions(url, "app")
    assert f"could not connect to Helm chart repository {url!r}" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert client.requests_made == 1


def test_a_broken_connection_is_a_repository_error():
    # A server hanging up mid-answer is hard to stage for real; a transport can.
    def hang_up(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    client = HelmRepoClient(transport=httpx.MockTransport(hang_up))
    with client, pytest.raises(RepositoryError, match="failed while its index was read"):
        client.chart_versions("https://charts.example.com", "app")


def test_a_chart_the_index_does_not_list(repo: HelmRepoServer, client: HelmRepoClient):
    with pytest.raises(ChartNotFoundError) as caught:
        client.chart_versions(repo.url, "ap")
    assert str(caught.value) == (
        f"chart 'ap' is not in Helm chart repository {repo.url!r} (did you mean 'app'?)"
    )
    with pytest.raises(ChartNotFoundError, match=r"its index lists 'app', 'db'\)"):
        client.chart_versions(repo.url, "zzzzzzzz")
    repo.set_charts({})
    with pytest.raises(ChartNotFoundError, match="its index lists no charts"):
        client.chart_versions(repo.url, "app")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("entries: [\n", "is not valid YAML (did not find expected node content at line 2)"),
        ("entries:\n\tapp: []\n", "is not valid YAML"),
        ("- a\n- b\n", "is malformed: it is a list, not a mapping with 'entries'"),
        ("<html>oops</html>\n", "is malformed: it is a scalar, not a mapping with 'entries'"),
        ("entries: [1, 2]\n", "'entries' is a list, not a mapping of chart names"),
        ("entries:\n  app: 1.0.0\n", "for chart 'app': its entry is a scalar"),
        ("entries:\n  app: [1.0.0]\n", "for chart 'app': item 0 is a scalar, not a mapping"),
        ("entries:\n  app:\n  - version: [1]\n", "item 0 has a list as its version"),
        ("entries:\n  app: []\n  app: []\n", "duplicate key 'app'"),
        ("a: 1\n---\nb: 2\n", "more than one YAML document"),
    ],
)
def test_malformed_indexes(repo: HelmRepoServer, client: HelmRepoClient, body: str, message: str):
    repo.serve_raw(body)
    with pytest.raises(RepositoryError) as caught:
        client.chart_versions(repo.url, "app")
    assert message in str(caught.value)
    assert f"the index of Helm chart repository {repo.url!r}" in str(caught.value)


def test_a_malformed_entry_spoils_only_its_chart(repo: HelmRepoServer, client: HelmRepoClient):
    repo.serve_raw("entries:\n  broken: 5\n  app:\n  - version: 1.0.0\n")
    assert client.chart_versions(repo.url, "app") == ["1.0.0"]


# Documents and what both parsing paths (event stream, full safe load) read from them.
INDEXES = [
    (b"", ChartIndex({})),
    (b"~\n", ChartIndex({})),
    (b"apiVersion: v1\n", ChartIndex({})),
    (b"entries:\n", ChartIndex({})),
    (b"entries: {}\n", ChartIndex({})),
    (
        b"entries:\n  a:\n  - version: 1.10\n  - version: 2\n  - version: '3.0.0'\n"
        b"  - {name: a}\n  - version: null\n  - version: !!str 1.0\n  h: ~\n",
        ChartIndex({"a": ("1.10", "2", "3.0.0", "1.0"), "h": ()}),
    ),
    (
        b"entries:\n  b: 5\n  c: {x: 1}\n  d: [~]\n  e: [{version: {a: 1}}]\n  ok: []\n",
        ChartIndex(
            {"ok": ()},
            {
                "b": "its entry is a scalar, not a list of chart versions",
                "c": "its entry is a mapping, not a list of chart versions",
                "d": "item 0 is a null, not a mapping",
                "e": "item 0 has a mapping as its version",
            },
        ),
    ),
    (
        b'{"entries": {"a": [{"version": "1.0.0", "urls": ["x"]}, {"version": 2.50}]}}',
        ChartIndex({"a": ("1.0.0", "2.50")}),
    ),
    # Anchors and aliases: the event path hands over to the full load.
    (
        b"base: &v 1.0.0\nentries:\n  a: &list\n  - version: *v\n  b: *list\n",
        ChartIndex({"a": ("1.0.0",), "b": ("1.0.0",)}),
    ),
]


@pytest.mark.parametrize(("content", "expected"), INDEXES)
@pytest.mark.parametrize("fast", [True, False])
def test_index_parsing(content: bytes, expected: ChartIndex, fast: bool):
    assert parse_index(content, "'r'", fast=fast) == expected


def test_a_large_index_is_read_by_libyaml():
    index = parse_index(large_index(), "'r'")
    assert len(index.versions) == 400
    assert index.versions["c399"][-1] == "1.19.0"
    # A pure-Python parse of these ~2.3 MB takes over ten seconds, libyaml well under one
    # (bench/discovery.py measures it): the installed PyYAML must carry libyaml.
    assert yaml.__with_libyaml__

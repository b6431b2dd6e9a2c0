"""Registry authentication: challenges, token answers, and the token flow against a real front."""

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from kargo_dagster.clients.oci import RegistryClient
from kargo_dagster.clients.oci.auth import (
    Challenge,
    Token,
    TokenCache,
    parse_challenge,
    parse_token_response,
)
from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.errors import RepositoryError
from kargo_dagster.testing.oci_push import push_image
from kargo_dagster.testing.registry import LocalRegistry
from kargo_dagster.testing.token_auth import TokenAuthRegistry

PASSWORD = "s3cret-Pa55word"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/nginx:pull"',
            Challenge(
                "bearer",
                {
                    "realm": "https://auth.docker.io/token",
                    "service": "registry.docker.io",
                    "scope": "repository:library/nginx:pull",
                },
            ),
        ),
        ('Basic realm="Registry Realm"', Challenge("basic", {"realm": "Registry Realm"})),
        (
            'bearer realm="r", error="invalid_token"',
            Challenge("bearer", {"realm": "r", "error": "invalid_token"}),
        ),
        (
            'Bearer realm="r",scope="repository:a:pull,push"',
            Challenge("bearer", {"realm": "r", "scope": "repository:a:pull,push"}),
        ),
        (
            "Bearer realm=https://x/token,service=reg",
            Challenge("bearer", {"realm": "https://x/token", "service": "reg"}),
        ),
        ('Bearer realm="r", Basic realm="b"', Challenge("bearer", {"realm": "r"})),
        ('Bearer realm="say \\"hi\\""', Challenge("bearer", {"realm": 'say "hi"'})),
        ("Basic", Challenge("basic", {})),
        ("", None),
    ],
)
def test_parse_challenge(header: str, expected: Challenge | None):
    assert parse_challenge(header) == expected


@pytest.mark.parametrize(
    ("body", "value", "lifetime"),
    [
        (b'{"token": "t1", "expires_in": 300}', "t1", 295.0),
        (b'{"access_token": "t2"}', "t2", 55.0),
        (b'{"token": "t3", "access_token": "other", "expires_in": 0}', "t3", 55.0),
        (b'{"expires_in": 300}', None, None),
        (b"not json", None, None),
        (b'["token"]', None, None),
    ],
)
def test_parse_token_response(body: bytes, value: str | None, lifetime: float | None):
    token = parse_token_response(body, now=1000.0)
    if value is None:
        assert token is None
    else:
        assert token == Token(value, 1000.0 + (lifetime or 0))


def test_token_cache_drops_expired_tokens():
    now = [0.0]
    cache = TokenCache(clock=lambda: now[0])
    key = ("realm", "service", "repository:a:pull", "")
    cache.put(key, Token("abc", expires_at=10.0))
    assert cache.get(key) == "abc"
    now[0] = 10.0
    assert cache.get(key) is None
    assert len(cache) == 0


def _store(password: str = PASSWORD) -> StaticCredentialStore:
    rule = CredentialRule(
        "image", r"^127\.0\.0\.1:\d+/", Credentials("robot", SecretStr(password)), is_regex=True
    )
    return StaticCredentialStore([rule])


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalRegistry]:
    with LocalRegistry() as registry:
        push_image(registry, "team/app", "v1.0.0", created="2024-01-01T00:00:00Z")
        push_image(registry, "team/other", "v2.0.0")
        yield registry


@pytest.fixture
def bearer(backend: LocalRegistry) -> Iterator[TokenAuthRegistry]:
    with TokenAuthRegistry(backend, "robot", PASSWORD) as front:
        yield front


def test_bearer_flow_with_the_right_credentials(bearer: TokenAuthRegistry):
    with RegistryClient(_store()) as client:
        repo = client.repository(bearer.repo_url("team/app"))
        assert repo.list_tags() == ["v1.0.0"]
        # The anonymous attempt earns the challenge, then a token, then the retry.
        assert client.request_counts == {"tags": 2, "token": 1}
        assert repo.list_tags() == ["v1.0.0"]
        assert client.requests_made == 4  # the token is reused
        # Another repository on the same registry: a token up front, no 401 first.
        assert client.repository(bearer.repo_url("team/other")).list_tags() == ["v2.0.0"]
        assert client.requests_made == 6
        image = repo.get_image("v1.0.0")
        assert image.created_at is not None and image.created_at.year == 2024
    assert bearer.counts["token"] == 2


def test_bearer_flow_renews_a_token_the_registry_no_longer_accepts(bearer: TokenAuthRegistry):
    with RegistryClient(_store()) as client:
        repo = client.repository(bearer.repo_url("team/app"))
        repo.list_tags()
        bearer.revoke_tokens()
        before = client.requests_made
        assert repo.list_tags() == ["v1.0.0"]
        assert client.requests_made - before == 3  # refused, new token, retry


def test_bearer_flow_with_wrong_credentials(bearer: TokenAuthRegistry):
    with RegistryClient(_store("wrong-password")) as client:
        with pytest.raises(RepositoryError) as caught:
            client.repository(bearer.repo_url("team/app")).list_tags()
    message = str(caught.value)
    assert "refused the configured credentials" in message
    assert bearer.repo_url("team/app") in message
    assert "wrong-password" not in message and PASSWORD not in message


def test_bearer_flow_anonymous(bearer: TokenAuthRegistry):
    with RegistryClient() as client:
        with pytest.raises(RepositoryError) as caught:
            client.repository(bearer.repo_url("team/app")).list_tags()
    message = str(caught.value)
    assert "refused anonymous access" in message
    assert "HTTP 401" in message
    assert "configure image credentials" in message


def test_issued_tokens_never_reach_messages(bearer: TokenAuthRegistry):
    with RegistryClient(_store()) as client:
        repo = client.repository(bearer.repo_url("team/app"))
        repo.list_tags()
        with pytest.raises(RepositoryError) as caught:
            repo.get_image("no-such-tag")
    message = str(caught.value)
    assert "HTTP 404" in message
    assert "Bearer" not in message and PASSWORD not in message


@pytest.mark.parametrize(
    ("password", "works"),
    [(PASSWORD, True), ("wrong-password", False)],
)
def test_basic_auth(backend: LocalRegistry, password: str, works: bool):
    with (
        TokenAuthRegistry(backend, "robot", PASSWORD, mode="basic") as front,
        RegistryClient(_store(password)) as client,
    ):
        repo = client.repository(front.repo_url("team/app"))
        if works:
            assert repo.list_tags() == ["v1.0.0"]
            assert repo.list_tags() == ["v1.0.0"]
            assert client.requests_made == 3  # challenge + retry, then Basic up front
            assert front.counts["token"] == 0
        else:
            with pytest.raises(RepositoryError) as caught:
                repo.list_tags()
            message = str(caught.value)
            assert "HTTP 401" in message and "credentials were not accepted" in message
            assert password not in message


def test_basic_challenge_without_credentials(backend: LocalRegistry):
    with (
        TokenAuthRegistry(backend, "robot", PASSWORD, mode="basic") as front,
        RegistryClient() as client,
    ):
        with pytest.raises(RepositoryError, match="requires credentials"):
            client.repository(front.repo_url("team/app")).list_tags()
        assert client.requests_made == 1

"""Each provider checks its sender's signature or token and reads the pushed repository."""

import hashlib
import hmac
import json

import pytest

from kargo_dagster.errors import WebhookRefusedError
from kargo_dagster.spec.project import ArtifactoryReceiver, ReceiverSecret, SecretReference
from kargo_dagster.testing import webhook_senders as send
from kargo_dagster.webhooks.inbound import (
    Acknowledged,
    GenericActions,
    InboundRequest,
    RefreshRequest,
)
from kargo_dagster.webhooks.providers import PROVIDERS

SECRET = "s3cret-value"
DETAILS = ReceiverSecret(secret_ref=SecretReference(name="hook"))
REPO = "https://git.example.com/Acme/App.git"


def resigned(delivery: send.Delivery, body: bytes) -> send.Delivery:
    """``delivery`` with another body, signed as GitHub signs it."""
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return send.Delivery(body, {**delivery.headers, "X-Hub-Signature-256": signature})


def inbound(delivery: send.Delivery, **extra: str) -> InboundRequest:
    headers = {k.lower(): v for k, v in {**delivery.headers, **extra}.items()}
    return InboundRequest(headers=headers, body=delivery.body)


def handle(kind: str, delivery: send.Delivery, details: ReceiverSecret = DETAILS, headers=None):
    return PROVIDERS[kind].handle(inbound(delivery, **(headers or {})), SECRET, details)


VALID = [
    (
        "github",
        send.github_push(REPO, "refs/heads/main", SECRET, changed=["charts/app.yaml"]),
        RefreshRequest(
            "push",
            ("https://git.example.com/acme/app", ""),
            ("refs/heads/main",),
            ("charts/app.yaml",),
        ),
    ),
    (
        "github",
        send.github_package("ghcr.io/Acme/app", "v1.2.0", SECRET),
        RefreshRequest("package", ("ghcr.io/acme/app",), ("v1.2.0",)),
    ),
    (
        "gitlab",
        send.gitlab_push(REPO, "refs/heads/main", SECRET, changed=["a.txt"]),
        RefreshRequest(
            "push", ("https://git.example.com/acme/app", ""), ("refs/heads/main",), ("a.txt",)
        ),
    ),
    (
        "gitlab",
        send.gitlab_tag_push(REPO, "v2.0.0", SECRET),
        RefreshRequest("tag_push", ("https://git.example.com/acme/app", ""), ("refs/tags/v2.0.0",)),
    ),
    (
        "gitea",
        send.gitea_push(REPO, "refs/heads/dev", SECRET),
        RefreshRequest("push", ("https://git.example.com/acme/app",), ("refs/heads/dev",)),
    ),
    (
        "bitbucket",
        send.bitbucket_push("https://bitbucket.org/acme/app", "main", SECRET),
        RefreshRequest("repo:push", ("https://bitbucket.org/acme/app",), ("refs/heads/main",)),
    ),
    (
        "bitbucket",
        send.bitbucket_refs_changed(REPO, "refs/tags/v1", SECRET),
        RefreshRequest(
            "repo:refs_changed", ("https://git.example.com/acme/app",), ("refs/tags/v1",)
        ),
    ),
    (
        "dockerhub",
        send.dockerhub_push("acme/app", "v1"),
        RefreshRequest("push", ("acme/app",), ("v1",)),
    ),
    (
        "quay",
        send.quay_push("quay.io/acme/app", ["v1", "latest"]),
        RefreshRequest("push", ("quay.io/acme/app",), ("v1", "latest")),
    ),
    (
        "harbor",
        send.harbor_push("harbor.example.com/acme/app:v1", "v1", SECRET),
        RefreshRequest("PUSH_ARTIFACT", ("harbor.example.com/acme/app",), ("v1",)),
    ),
    (
        "artifactory",
        send.artifactory_push("https://acme.jfrog.io", "docker-local", "team/app", "v1", SECRET),
        RefreshRequest("pushed", ("acme.jfrog.io/docker-local/team/app",), ("v1",)),
    ),
    (
        "azure",
        send.acr_push("acme.azurecr.io", "team/app", "v1"),
        RefreshRequest("push", ("acme.azurecr.io/team/app",), ("v1",)),
    ),
    (
        "azure",
        send.azure_devops_push(REPO, "refs/heads/main"),
        RefreshRequest("git.push", ("https://git.example.com/acme/app",), ("refs/heads/main",)),
    ),
]


@pytest.mark.parametrize(
    ("kind", "delivery", "expected"), VALID, ids=[f"{k}-{e.event}" for k, _, e in VALID]
)
def test_a_valid_delivery_names_the_repository_and_what_was_pushed(kind, delivery, expected):
    assert handle(kind, delivery) == expected


def test_artifactory_uses_the_virtual_repository_when_configured():
    details = ArtifactoryReceiver(
        secret_ref=SecretReference(name="hook"), virtual_repo_name="docker-virtual"
    )
    delivery = send.artifactory_push("https://acme.jfrog.io", "docker-local", "app", "v1", SECRET)
    got = handle("artifactory", delivery, details)
    assert isinstance(got, RefreshRequest)
    assert got.repo_urls == ("acme.jfrog.io/docker-virtual/app",)


SIGNED = [
    ("github", send.github_push(REPO, "refs/heads/main", SECRET), "X-Hub-Signature-256"),
    ("gitea", send.gitea_push(REPO, "refs/heads/main", SECRET), "X-Hub-Signature-256"),
    ("bitbucket", send.bitbucket_push(REPO, "main", SECRET), "X-Hub-Signature"),
    ("gitlab", send.gitlab_push(REPO, "refs/heads/main", SECRET), "X-Gitlab-Token"),
    ("harbor", send.harbor_push("h.example.com/a:v1", "v1", SECRET), "Authorization"),
    (
        "artifactory",
        send.artifactory_push("https://a.jfrog.io", "r", "app", "v1", SECRET),
        "X-Jfrog-Event-Auth",
    ),
]


@pytest.mark.parametrize(("kind", "delivery", "header"), SIGNED, ids=[s[0] for s in SIGNED])
def test_a_forged_or_missing_signature_is_refused_with_401(kind, delivery, header):
    forged = {header: "sha256=" + "0" * 64}
    with pytest.raises(WebhookRefusedError) as refused:
        handle(kind, delivery, headers=forged)
    assert refused.value.status == 401
    unsigned = send.Delivery(
        delivery.body, {k: v for k, v in delivery.headers.items() if k != header}
    )
    with pytest.raises(WebhookRefusedError) as missing:
        handle(kind, unsigned)
    assert missing.value.status == 401
    assert SECRET not in str(refused.value) + str(missing.value)


def test_a_tampered_body_fails_the_signature():
    delivery = send.github_push(REPO, "refs/heads/main", SECRET)
    tampered = send.Delivery(delivery.body.replace(b"main", b"prod"), delivery.headers)
    with pytest.raises(WebhookRefusedError) as refused:
        handle("github", tampered)
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("kind", "delivery", "status"),
    [
        ("github", send.Delivery(b"{}", {"X-GitHub-Event": "issues"}), 400),
        ("gitea", send.Delivery(b"{}", {"X-Gitea-Event": "issues"}), 501),
        ("bitbucket", send.Delivery(b"{}", {"X-Event-Key": "issue:created"}), 400),
        ("azure", send.Delivery(b"{}", {"User-Agent": "curl/8"}), 400),
        ("dockerhub", send.Delivery(b"not json", {}), 400),
        ("quay", send.Delivery(b"[1, 2]", {}), 400),
    ],
)
def test_unsupported_or_unreadable_requests_get_kargos_status(kind, delivery, status):
    with pytest.raises(WebhookRefusedError) as refused:
        handle(kind, delivery)
    assert refused.value.status == status


def test_a_signed_but_unreadable_github_body_is_a_400():
    delivery = resigned(send.github_push(REPO, "refs/heads/main", SECRET), b"{not json")
    with pytest.raises(WebhookRefusedError) as refused:
        handle("github", delivery)
    assert refused.value.status == 400


def test_pings_and_ignored_package_actions_are_acknowledged():
    assert isinstance(handle("github", send.github_ping(SECRET)), Acknowledged)
    deleted = send.github_package("ghcr.io/acme/app", "v1", SECRET, action="deleted")
    assert isinstance(handle("github", deleted), Acknowledged)


def test_a_github_push_with_too_many_commits_lists_no_changed_files():
    delivery = send.github_push(REPO, "refs/heads/main", SECRET, changed=["a"])
    payload = json.loads(delivery.body)
    payload["commits"] = payload["commits"] * 2048
    got = handle("github", resigned(delivery, json.dumps(payload).encode()))
    assert isinstance(got, RefreshRequest) and got.changed_files == ()


def test_a_generic_request_is_exposed_to_expressions():
    got = handle("generic", send.generic_post({"repo": "x"}, {"X-Event": "push"}))
    assert isinstance(got, GenericActions)
    request = got.variables["request"]
    assert request["body"] == {"repo": "x"} and request["header"]("x-event") == "push"

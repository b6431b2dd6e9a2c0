"""Gitea: pushes and pull requests, signed with ``X-Hub-Signature-256`` as GitHub signs.

The HMAC key is the Secret's ``secret``. Event kinds other than ``push`` and
``pull_request`` are answered 501, as Kargo answers them.
"""

from kargo_dagster.spec.project import ReceiverSecret
from kargo_dagster.urls import normalize_git_url
from kargo_dagster.webhooks.inbound import (
    Acknowledged,
    InboundRequest,
    Outcome,
    Provider,
    RefreshRequest,
    changed_paths,
    member,
    objects,
    text,
    unsupported_event,
)
from kargo_dagster.webhooks.signatures import check_prefixed_signature

__all__ = ["PROVIDER"]


def handle(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Check and read one Gitea delivery."""
    event = request.header("X-Gitea-Event")
    if event not in ("push", "pull_request"):
        raise unsupported_event(event, status=501)
    check_prefixed_signature(request, "X-Hub-Signature-256", secret)
    payload = request.json_object()
    if event == "pull_request":
        return Acknowledged("pull request events wake no Warehouse")
    commits = objects(payload.get("commits"))
    total = payload.get("total_commits")
    truncated = isinstance(total, int) and total > len(commits)
    return RefreshRequest(
        "push",
        (normalize_git_url(text(member(payload, "repository", "clone_url"))),),
        (text(payload.get("ref")),),
        () if truncated else changed_paths(commits),
    )


PROVIDER = Provider(kind="gitea", secret_key="secret", handle=handle)

"""Bitbucket Cloud (``repo:push``) and Bitbucket Data Center (``repo:refs_changed``).

Requests are signed with ``X-Hub-Signature`` (``sha256=<HMAC of the body>`` under the
Secret's ``secret``). The event kind is checked before the signature, as Kargo checks it.
Pull request events are acknowledged and refresh nothing.
"""

from typing import Any

from kargo_dagster.spec.project import ReceiverSecret
from kargo_dagster.urls import normalize_git_url
from kargo_dagster.webhooks.inbound import (
    Acknowledged,
    InboundRequest,
    Outcome,
    Provider,
    RefreshRequest,
    member,
    objects,
    text,
    unsupported_event,
)
from kargo_dagster.webhooks.signatures import check_prefixed_signature

__all__ = ["PROVIDER"]

_PULL_REQUEST_EVENTS = frozenset(
    {"pullrequest:fulfilled", "pullrequest:rejected", "pr:merged", "pr:declined"}
)


def handle(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Check and read one Bitbucket delivery."""
    event = request.header("X-Event-Key")
    if event not in ("repo:push", "repo:refs_changed", *_PULL_REQUEST_EVENTS):
        raise unsupported_event(event)
    check_prefixed_signature(request, "X-Hub-Signature", secret)
    payload = request.json_object()
    if event in _PULL_REQUEST_EVENTS:
        return Acknowledged("pull request events wake no Warehouse")
    if event == "repo:push":
        return _cloud_push(payload)
    clones = objects(member(payload, "repository", "links", "clone"))
    refs = [text(member(change, "ref", "id")) for change in objects(payload.get("changes"))]
    urls = tuple(normalize_git_url(text(link.get("href"))) for link in clones)
    return RefreshRequest(event, urls, tuple(refs))


def _cloud_push(payload: dict[str, Any]) -> RefreshRequest:
    refs: list[str] = []
    for change in objects(member(payload, "push", "changes")):
        name = text(member(change, "new", "name"))
        if not name:
            continue  # a deleted branch or tag
        kind = "tags" if text(member(change, "new", "type")) == "tag" else "heads"
        refs.append(f"refs/{kind}/{name}")
    url = text(member(payload, "repository", "links", "html", "href"))
    return RefreshRequest("repo:push", (normalize_git_url(url),), tuple(refs))


PROVIDER = Provider(kind="bitbucket", secret_key="secret", handle=handle)

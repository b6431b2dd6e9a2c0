"""GitHub: pushes, GitHub Container Registry package events, pings and pull requests.

Requests are signed with ``X-Hub-Signature-256`` (HMAC-SHA-256 of the body under the Secret's
``secret``). A push refreshes the Warehouses subscribed to the repository (by its clone and
SSH URLs) whose branch or tag matches the pushed ref and whose path filters select a changed
file; a ``package`` or ``registry_package`` event (published or updated container) refreshes
those subscribed to the image whose tag was pushed.
"""

from typing import Any

from kargo_dagster.spec.project import ReceiverSecret
from kargo_dagster.urls import normalize_git_url
from kargo_dagster.webhooks.image_urls import image_repo_urls
from kargo_dagster.webhooks.inbound import (
    Acknowledged,
    InboundRequest,
    Outcome,
    Provider,
    RefreshRequest,
    changed_paths,
    invalid_body,
    member,
    objects,
    text,
    unsupported_event,
)
from kargo_dagster.webhooks.signatures import check_prefixed_signature

__all__ = ["PROVIDER"]

_EVENTS = frozenset({"package", "ping", "pull_request", "push", "registry_package"})
# GitHub lists at most this many commits in a push; past it the changed files are unknown.
_MAX_LISTED_COMMITS = 2048


def handle(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Check and read one GitHub delivery."""
    event = request.header("X-GitHub-Event")
    if event not in _EVENTS:
        raise unsupported_event(event)
    check_prefixed_signature(request, "X-Hub-Signature-256", secret)
    payload = request.json_object()
    if event == "ping":
        return Acknowledged("ping event received, webhook is configured correctly")
    if event == "pull_request":
        return Acknowledged("pull request events wake no Warehouse")
    if event == "push":
        return _push(payload)
    if text(payload.get("action")) not in ("published", "updated"):
        return Acknowledged("only published or updated packages refresh Warehouses")
    return _package(event, payload.get("package" if event == "package" else "registry_package"))


def _push(payload: dict[str, Any]) -> RefreshRequest:
    repository = member(payload, "repository")
    urls = (
        normalize_git_url(text(member(repository, "clone_url"))),
        normalize_git_url(text(member(repository, "ssh_url"))),
    )
    commits = objects(payload.get("commits"))
    changed: tuple[str, ...] = ()
    if len(commits) < _MAX_LISTED_COMMITS:
        head = member(payload, "head_commit")
        changed = changed_paths([*commits, *([head] if isinstance(head, dict) else [])])
    return RefreshRequest("push", urls, (text(payload.get("ref")),), changed)


def _package(event: str, package: Any) -> Outcome:
    version = member(package, "package_version")
    if not isinstance(version, dict):
        raise invalid_body()
    if text(member(package, "package_type")) not in ("CONTAINER", "docker"):
        return Acknowledged("only container packages refresh Warehouses")
    media_type = text(member(version, "container_metadata", "manifest", "config", "media_type"))
    # GitHub sometimes sends "ghcr.io/owner/image:" with an empty tag.
    url = text(version.get("package_url")).removesuffix(":")
    tag = text(member(version, "container_metadata", "tag", "name"))
    return RefreshRequest(event, image_repo_urls(url, media_type), (tag,))


PROVIDER = Provider(kind="github", secret_key="secret", handle=handle)

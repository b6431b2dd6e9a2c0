"""Azure Container Registry pushes and Azure DevOps git pushes; the URL is the secret.

The sender is told apart by its ``User-Agent``: ``AzureContainerRegistry/...`` or
``VSServices/...``. Pull request events are acknowledged and refresh nothing.
"""

from typing import Any

from kargo_dagster.errors import WebhookRefusedError
from kargo_dagster.spec.project import ReceiverSecret
from kargo_dagster.urls import normalize_git_url
from kargo_dagster.webhooks.image_urls import image_repo_urls
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

__all__ = ["PROVIDER"]


def handle(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Read one Azure delivery."""
    agent = request.header("User-Agent")
    if not agent.startswith(("AzureContainerRegistry", "VSServices")):
        raise WebhookRefusedError(
            400, "request does not appear to come from Azure Container Registry or Azure DevOps"
        )
    payload = request.json_object()
    if agent.startswith("AzureContainerRegistry"):
        return _registry(payload)
    return _devops(payload)


def _registry(payload: dict[str, Any]) -> Outcome:
    action = text(payload.get("action"))
    if action == "ping":
        return Acknowledged("ping event received, webhook is configured correctly")
    if action != "push":
        raise unsupported_event(action)
    host = text(member(payload, "request", "host"))
    repository = text(member(payload, "target", "repository"))
    media_type = text(member(payload, "target", "mediaType"))
    tag = text(member(payload, "target", "tag"))
    return RefreshRequest("push", image_repo_urls(f"{host}/{repository}", media_type), (tag,))


def _devops(payload: dict[str, Any]) -> Outcome:
    event = text(payload.get("eventType"))
    if event in ("git.pullrequest.merged", "git.pullrequest.updated"):
        return Acknowledged("pull request events wake no Warehouse")
    if event != "git.push":
        raise unsupported_event(event)
    url = normalize_git_url(text(member(payload, "resource", "repository", "remoteUrl")))
    refs = tuple(
        text(update.get("name")) for update in objects(member(payload, "resource", "refUpdates"))
    )
    return RefreshRequest("git.push", (url,), refs)


PROVIDER = Provider(kind="azure", secret_key="secret", handle=handle)

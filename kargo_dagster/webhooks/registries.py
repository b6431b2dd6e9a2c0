"""Container registries that authenticate by URL or by a shared header: Docker Hub, Quay,
Harbor.

Docker Hub and Quay sign nothing: the secret is in the receiver's URL, which nobody can
derive without it. Harbor sends the configured "Auth Header" value as ``Authorization``,
which must equal the Secret's ``auth-header``; only its ``PUSH_ARTIFACT`` events (default
payload format) are read.
"""

from kargo_dagster.errors import WebhookRefusedError
from kargo_dagster.spec.project import ReceiverSecret
from kargo_dagster.webhooks.image_urls import image_repo_urls
from kargo_dagster.webhooks.inbound import (
    InboundRequest,
    Outcome,
    Provider,
    RefreshRequest,
    member,
    objects,
    strings,
    text,
    unauthorized,
)
from kargo_dagster.webhooks.signatures import same_text

__all__ = ["DOCKERHUB", "HARBOR", "QUAY"]


def handle_dockerhub(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Read one Docker Hub push."""
    payload = request.json_object()
    repository = text(member(payload, "repository", "repo_name"))
    media_type = text(member(payload, "push_data", "media_type"))
    tag = text(member(payload, "push_data", "tag"))
    return RefreshRequest("push", image_repo_urls(repository, media_type), (tag,))


def handle_quay(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Read one Quay push (it names no media type: both URL forms are refreshed)."""
    payload = request.json_object()
    url = text(payload.get("docker_url"))
    return RefreshRequest("push", image_repo_urls(url), tuple(strings(payload.get("updated_tags"))))


def handle_harbor(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Check and read one Harbor event."""
    given = request.header("Authorization")
    if not given:
        raise unauthorized("missing authorization")
    if not same_text(given, secret):
        raise unauthorized()
    payload = request.json_object()
    if text(payload.get("type")) != "PUSH_ARTIFACT":
        raise WebhookRefusedError(400, "unsupported event type")
    resources = objects(member(payload, "event_data", "resources"))
    if not resources:
        return RefreshRequest("PUSH_ARTIFACT", ())
    urls = image_repo_urls(text(resources[0].get("resource_url")))
    return RefreshRequest(
        "PUSH_ARTIFACT", urls, tuple(text(resource.get("tag")) for resource in resources)
    )


DOCKERHUB = Provider(kind="dockerhub", secret_key="secret", handle=handle_dockerhub)
QUAY = Provider(kind="quay", secret_key="secret", handle=handle_quay)
HARBOR = Provider(kind="harbor", secret_key="auth-header", handle=handle_harbor)

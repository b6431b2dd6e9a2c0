"""JFrog Artifactory: Docker and OCI pushes, signed with ``X-Jfrog-Event-Auth``.

The header carries the hex HMAC-SHA-256 of the body under the Secret's ``secret-token``. The
pushed repository is ``<origin host>/<repository>/<path without its last two parts>``, where
the repository is the receiver's ``virtualRepoName`` when set (a Warehouse subscribed through
a virtual repository), else the payload's local ``repo_key``.
"""

from urllib.parse import urlsplit

from kargo_dagster.errors import WebhookRefusedError
from kargo_dagster.spec.project import ArtifactoryReceiver, ReceiverSecret
from kargo_dagster.urls import normalize_chart_repo_url, normalize_image_repo_url
from kargo_dagster.webhooks.inbound import (
    InboundRequest,
    Outcome,
    Provider,
    RefreshRequest,
    member,
    text,
    unauthorized,
)
from kargo_dagster.webhooks.signatures import hmac_hex, same_text

__all__ = ["PROVIDER"]


def handle(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Check and read one Artifactory event."""
    signature = request.header("X-Jfrog-Event-Auth")
    if not signature:
        raise unauthorized("missing signature")
    if not same_text(signature, hmac_hex(secret, request.body)):
        raise unauthorized()
    payload = request.json_object()
    if text(payload.get("event_type")) != "pushed" or text(payload.get("domain")) != "docker":
        raise WebhookRefusedError(501, "event type must be 'pushed' and domain must be 'docker'")
    image_type = text(member(payload, "data", "image_type"))
    if image_type not in ("docker", "oci"):
        raise WebhookRefusedError(501, f"unsupported image type {image_type!r}")
    try:
        host = urlsplit(text(payload.get("jpd_origin"))).netloc
    except ValueError:
        raise WebhookRefusedError(400, "invalid value in payload's jpd_origin field") from None
    sections = text(member(payload, "data", "path")).split("/")
    if len(sections) < 2:
        raise WebhookRefusedError(400, "invalid value in payload's data.path field")
    virtual = details.virtual_repo_name if isinstance(details, ArtifactoryReceiver) else None
    repository = virtual or text(member(payload, "data", "repo_key"))
    url = "/".join([host, repository, *sections[:-2]])
    normalized = (
        normalize_image_repo_url(url) if image_type == "docker" else (normalize_chart_repo_url(url))
    )
    return RefreshRequest("pushed", (normalized,), (text(member(payload, "data", "tag")),))


PROVIDER = Provider(kind="artifactory", secret_key="secret-token", handle=handle)

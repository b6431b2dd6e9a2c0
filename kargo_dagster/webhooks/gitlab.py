"""GitLab: pushes, tag pushes and merge requests, authenticated by ``X-Gitlab-Token``.

The token must equal the Secret's ``secret-token``. A push refreshes the Warehouses
subscribed to the repository (HTTP and SSH URLs) whose branch matches and whose path filters
select a changed file (unless GitLab truncated the commit list); a tag push, those whose tag
rules select the tag.
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
    changed_paths,
    member,
    objects,
    text,
    unauthorized,
    unsupported_event,
)
from kargo_dagster.webhooks.signatures import same_text

__all__ = ["PROVIDER"]

_PUSH, _TAG_PUSH, _MERGE_REQUEST = "Push Hook", "Tag Push Hook", "Merge Request Hook"


def handle(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Check and read one GitLab delivery."""
    if not same_text(request.header("X-Gitlab-Token"), secret):
        raise unauthorized()
    event = request.header("X-Gitlab-Event")
    if event not in (_PUSH, _TAG_PUSH, _MERGE_REQUEST):
        raise unsupported_event(event)
    payload = request.json_object()
    if event == _MERGE_REQUEST:
        return Acknowledged("merge request events wake no Warehouse")
    urls = _repository_urls(payload)
    ref = text(payload.get("ref"))
    if event == _TAG_PUSH:
        return RefreshRequest("tag_push", urls, (ref,))
    commits = objects(payload.get("commits"))
    total = payload.get("total_commits_count")
    truncated = isinstance(total, int) and total > len(commits)
    return RefreshRequest("push", urls, (ref,), () if truncated else changed_paths(commits))


def _repository_urls(payload: dict[str, Any]) -> tuple[str, ...]:
    repository = member(payload, "repository")
    if not isinstance(repository, dict):
        return ()
    return (
        normalize_git_url(text(repository.get("git_http_url"))),
        normalize_git_url(text(repository.get("git_ssh_url"))),
    )


PROVIDER = Provider(kind="gitlab", secret_key="secret-token", handle=handle)

"""Webhook deliveries as GitHub, GitLab, Gitea, Bitbucket and the registries send them.

Each function builds the body and headers one sender would post for a push, signed (or
authenticated) the way that sender does it with the given secret, so tests and benchmarks can
drive ``kargo-dagster receive`` over HTTP as the real services would. Payloads carry the fields
those services send that Kargo reads, in their real shape.
"""

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Delivery",
    "acr_push",
    "artifactory_push",
    "azure_devops_push",
    "bitbucket_push",
    "bitbucket_refs_changed",
    "dockerhub_push",
    "generic_post",
    "gitea_push",
    "github_package",
    "github_ping",
    "github_push",
    "gitlab_push",
    "gitlab_tag_push",
    "harbor_push",
    "quay_push",
]


@dataclass(frozen=True)
class Delivery:
    """One request a sender makes: its body and headers (content type included)."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _json(payload: Mapping[str, Any], headers: Mapping[str, str]) -> Delivery:
    return Delivery(json.dumps(payload).encode(), {"Content-Type": "application/json", **headers})


def _hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signed(
    payload: Mapping[str, Any], headers: Mapping[str, str], header: str, secret: str
) -> Delivery:
    unsigned = _json(payload, headers)
    return Delivery(
        unsigned.body, {**unsigned.headers, header: _hub_signature(secret, unsigned.body)}
    )


def _commits(changed: Sequence[str]) -> list[dict[str, Any]]:
    return [{"id": "0" * 40, "added": [], "modified": list(changed), "removed": []}]


def github_push(clone_url: str, ref: str, secret: str, *, changed: Sequence[str] = ()) -> Delivery:
    """A GitHub ``push`` to ``ref`` (``refs/heads/main``) of the repository at ``clone_url``."""
    payload = {
        "ref": ref,
        "repository": {"clone_url": clone_url, "ssh_url": ""},
        "commits": _commits(changed),
        "head_commit": _commits(changed)[0],
    }
    return _signed(payload, {"X-GitHub-Event": "push"}, "X-Hub-Signature-256", secret)


def github_package(image: str, tag: str, secret: str, *, action: str = "published") -> Delivery:
    """A GitHub ``package`` event: container ``image`` (``ghcr.io/o/app``) pushed as ``tag``."""
    payload = {
        "action": action,
        "package": {
            "package_type": "CONTAINER",
            "package_version": {
                "package_url": f"{image}:{tag}",
                "container_metadata": {
                    "tag": {"name": tag},
                    "manifest": {
                        "config": {"media_type": "application/vnd.oci.image.config.v1+json"}
                    },
                },
            },
        },
    }
    return _signed(payload, {"X-GitHub-Event": "package"}, "X-Hub-Signature-256", secret)


def github_ping(secret: str) -> Delivery:
    """The ``ping`` GitHub sends when a webhook is created."""
    payload = {"zen": "Keep it logically awesome.", "hook_id": 1}
    return _signed(payload, {"X-GitHub-Event": "ping"}, "X-Hub-Signature-256", secret)


def gitlab_push(http_url: str, ref: str, token: str, *, changed: Sequence[str] = ()) -> Delivery:
    """A GitLab ``Push Hook`` with its secret token."""
    payload = {
        "object_kind": "push",
        "ref": ref,
        "repository": {"git_http_url": http_url, "git_ssh_url": ""},
        "commits": _commits(changed),
        "total_commits_count": 1,
    }
    return _json(payload, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": token})


def gitlab_tag_push(http_url: str, tag: str, token: str) -> Delivery:
    """A GitLab ``Tag Push Hook`` for ``tag``."""
    payload = {
        "object_kind": "tag_push",
        "ref": f"refs/tags/{tag}",
        "repository": {"git_http_url": http_url, "git_ssh_url": ""},
    }
    return _json(payload, {"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": token})


def gitea_push(clone_url: str, ref: str, secret: str) -> Delivery:
    """A Gitea ``push``, signed as Gitea signs (``X-Hub-Signature-256``)."""
    payload = {
        "ref": ref,
        "repository": {"clone_url": clone_url},
        "commits": [],
        "total_commits": 0,
    }
    return _signed(payload, {"X-Gitea-Event": "push"}, "X-Hub-Signature-256", secret)


def bitbucket_push(html_url: str, branch: str, secret: str) -> Delivery:
    """A Bitbucket Cloud ``repo:push`` of ``branch``."""
    payload = {
        "push": {"changes": [{"new": {"type": "branch", "name": branch}}]},
        "repository": {"links": {"html": {"href": html_url}}},
    }
    return _signed(payload, {"X-Event-Key": "repo:push"}, "X-Hub-Signature", secret)


def bitbucket_refs_changed(clone_url: str, ref: str, secret: str) -> Delivery:
    """A Bitbucket Data Center ``repo:refs_changed`` of ``ref``."""
    payload = {
        "changes": [{"ref": {"id": ref}}],
        "repository": {"links": {"clone": [{"href": clone_url, "name": "http"}]}},
    }
    return _signed(payload, {"X-Event-Key": "repo:refs_changed"}, "X-Hub-Signature", secret)


def dockerhub_push(repo_name: str, tag: str) -> Delivery:
    """A Docker Hub push notification (unsigned: the receiver's URL is the secret)."""
    payload = {
        "push_data": {"tag": tag, "media_type": "application/vnd.oci.image.index.v1+json"},
        "repository": {"repo_name": repo_name},
    }
    return _json(payload, {})


def quay_push(docker_url: str, tags: Sequence[str]) -> Delivery:
    """A Quay repository push notification (unsigned)."""
    return _json({"docker_url": docker_url, "updated_tags": list(tags)}, {})


def harbor_push(resource_url: str, tag: str, auth_header: str) -> Delivery:
    """A Harbor ``PUSH_ARTIFACT`` event (default payload format) with its auth header."""
    payload = {
        "type": "PUSH_ARTIFACT",
        "event_data": {"resources": [{"tag": tag, "resource_url": resource_url}]},
    }
    return _json(payload, {"Authorization": auth_header})


def artifactory_push(origin: str, repo_key: str, image: str, tag: str, secret: str) -> Delivery:
    """An Artifactory Docker ``pushed`` event, signed in ``X-Jfrog-Event-Auth``."""
    payload = {
        "domain": "docker",
        "event_type": "pushed",
        "jpd_origin": origin,
        "data": {
            "repo_key": repo_key,
            "path": f"{image}/{tag}/manifest.json",
            "image_name": image,
            "image_type": "docker",
            "tag": tag,
        },
    }
    unsigned = _json(payload, {})
    signature = hmac.new(secret.encode(), unsigned.body, hashlib.sha256).hexdigest()
    return Delivery(unsigned.body, {**unsigned.headers, "X-Jfrog-Event-Auth": signature})


def acr_push(host: str, repository: str, tag: str) -> Delivery:
    """An Azure Container Registry ``push`` (unsigned)."""
    payload = {
        "action": "push",
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "repository": repository,
            "tag": tag,
        },
        "request": {"host": host},
    }
    return _json(payload, {"User-Agent": "AzureContainerRegistry/1.0"})


def azure_devops_push(remote_url: str, ref: str) -> Delivery:
    """An Azure DevOps ``git.push`` (unsigned)."""
    payload = {
        "eventType": "git.push",
        "resource": {"refUpdates": [{"name": ref}], "repository": {"remoteUrl": remote_url}},
    }
    return _json(payload, {"User-Agent": "VSServices/16.0"})


def generic_post(payload: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Delivery:
    """A POST to a generic receiver."""
    return _json(payload, headers or {})

"""What a receiver reads from a request, and what it concludes from it.

A provider turns an :class:`InboundRequest` into one of three outcomes: a
:class:`RefreshRequest` (repositories pushed to, with the refs, tags or versions pushed and
the files a push changed), an :class:`Acknowledged` event that refreshes nothing (a ping, a
pull request), or :class:`GenericActions` for a generic receiver. A request that must be
refused raises :class:`~kargo_dagster.errors.WebhookRefusedError` with Kargo's status.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kargo_dagster.errors import WebhookRefusedError
from kargo_dagster.spec.project import ReceiverSecret

__all__ = [
    "MAX_BODY_BYTES",
    "Acknowledged",
    "GenericActions",
    "InboundRequest",
    "Outcome",
    "Provider",
    "RefreshRequest",
    "changed_paths",
    "invalid_body",
    "member",
    "objects",
    "strings",
    "text",
    "unauthorized",
    "unsupported_event",
]

# Kargo reads at most 2 MiB of a request's body.
MAX_BODY_BYTES = 2 << 20


@dataclass(frozen=True)
class InboundRequest:
    """A request as a receiver sees it.

    Attributes:
        headers: Header values by lower-case name (the first value of repeated headers).
        body: The raw body, exactly as signed.
        query: Query parameters (the first value of each).
        header_lists: Every value of each header, by lower-case name.
    """

    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    header_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def header(self, name: str) -> str:
        """The header's value, or ``""`` when it is absent."""
        return self.headers.get(name.lower(), "")

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            WebhookRefusedError: 400, the body is not JSON.
        """
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise invalid_body() from None

    def json_object(self) -> dict[str, Any]:
        """The body parsed as a JSON object.

        Raises:
            WebhookRefusedError: 400, the body is not a JSON object.
        """
        payload = self.json()
        if not isinstance(payload, dict):
            raise invalid_body()
        return payload


@dataclass(frozen=True)
class RefreshRequest:
    """Refresh the Warehouses subscribed to any of ``repo_urls``.

    Attributes:
        event: What the sender said happened (``push``, ``PUSH_ARTIFACT``...), for the log.
        repo_urls: The repositories, normalised as Kargo indexes subscriptions.
        qualifiers: Refs, tags or versions pushed; when any are given, only subscriptions
            that would select one of them are refreshed.
        changed_files: Files a git push changed; when given, only subscriptions whose path
            filters select one of them are refreshed.
    """

    event: str
    repo_urls: tuple[str, ...]
    qualifiers: tuple[str, ...] = ()
    changed_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Acknowledged:
    """An event that is answered with 200 and refreshes nothing (a ping, an ignored action)."""

    message: str


@dataclass(frozen=True)
class GenericActions:
    """A generic receiver's request, parsed: its actions are evaluated against ``variables``.

    Attributes:
        variables: What ``whenExpression`` and the selection expressions see (``request``,
            ``normalizeGit``...).
    """

    variables: Mapping[str, Any]


Outcome = RefreshRequest | Acknowledged | GenericActions


def unauthorized(reason: str = "unauthorized") -> WebhookRefusedError:
    """The refusal of a request whose signature or token is missing or wrong (401)."""
    return WebhookRefusedError(401, reason)


def invalid_body() -> WebhookRefusedError:
    """The refusal of a request whose body cannot be read (400)."""
    return WebhookRefusedError(400, "invalid request body")


def unsupported_event(event: str, status: int = 400) -> WebhookRefusedError:
    """The refusal of an event kind the receiver does not handle."""
    return WebhookRefusedError(status, f"event type {event or '(none)'} is not supported")


def text(value: Any) -> str:
    """``value`` if it is a string, else ``""``: payload fields of the wrong type read as
    absent, as Go's decoder leaves them at their zero value."""
    return value if isinstance(value, str) else ""


def member(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...``, or None where a level is missing or not an object."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def objects(value: Any) -> list[dict[str, Any]]:
    """The objects in ``value`` if it is a list, skipping anything else."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def strings(value: Any) -> list[str]:
    """The strings in ``value`` if it is a list."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def changed_paths(commits: list[dict[str, Any]]) -> tuple[str, ...]:
    """The sorted, distinct files a push's commits added, modified or removed."""
    paths = {
        path
        for commit in commits
        for key in ("added", "modified", "removed")
        for path in strings(commit.get(key))
    }
    return tuple(sorted(paths))


@dataclass(frozen=True)
class Provider:
    """One kind of sender.

    Attributes:
        kind: The receiver type, as in the ProjectConfig (``github``) and the URL path.
        secret_key: The key of the referenced Secret's ``data`` that holds the secret.
        handle: Checks a request with the secret and the receiver's settings, and reads it.
    """

    kind: str
    secret_key: str
    handle: Callable[[InboundRequest, str, ReceiverSecret], Outcome]

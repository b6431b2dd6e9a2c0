"""Timestamps in API answers: RFC 3339 text as GitHub, GitLab, Azure DevOps and Kubernetes
write it (``2026-01-02T03:04:05Z``), read the same way wherever an answer carries one."""

from datetime import datetime
from typing import Any

__all__ = ["api_timestamp"]


def api_timestamp(value: Any) -> datetime | None:
    """The moment ``value`` names, or None when it is absent or not a timestamp.

    Examples:
        >>> api_timestamp("2026-01-02T03:04:05Z").isoformat()
        '2026-01-02T03:04:05+00:00'
        >>> api_timestamp("soon") is None
        True
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None

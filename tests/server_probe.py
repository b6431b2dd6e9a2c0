"""Asking a server a test started whether it answers yet."""

import httpx


def answers(url: str, timeout: float = 5.0) -> bool:
    """Whether ``url`` answers 200 OK now; a server still starting refuses or answers nothing."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False

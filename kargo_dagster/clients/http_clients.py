"""How the repository clients name themselves over HTTP, and their pools per TLS setting.

Registries, chart repositories and git providers see one ``User-Agent``. A repository may
be configured with ``insecureSkipTLSVerify``, and a certificate check is a property of the
connection pool, so the registry and chart repository clients keep one pool for checked and
one for unchecked connections, made when first needed and shared by every repository.
"""

from typing import Any

import httpx

from kargo_dagster.clients.deadlines import DeadlineClient

__all__ = ["USER_AGENT", "ClientsByTLS"]

USER_AGENT = "kargo-dagster"


class ClientsByTLS:
    """A :class:`DeadlineClient` per certificate check setting, all with the same options.

    Args:
        deadline: Seconds each request may take in all.
        options: The other ``httpx.Client`` options (``timeout``, ``transport``…).
    """

    def __init__(self, *, deadline: float, **options: Any) -> None:
        self._deadline = deadline
        self._options = options
        self._clients: dict[bool, httpx.Client] = {}

    def get(self, verify: bool) -> httpx.Client:
        """The client that checks certificates, or the one that does not (``verify``)."""
        if verify not in self._clients:
            self._clients[verify] = DeadlineClient(
                deadline=self._deadline,
                verify=verify,
                headers={"User-Agent": USER_AGENT},
                **self._options,
            )
        return self._clients[verify]

    def close(self) -> None:
        """Close the connection pools; a later :meth:`get` opens a new one."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()

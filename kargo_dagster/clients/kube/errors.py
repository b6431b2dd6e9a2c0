"""What a failed Kubernetes API call says, for the clients' error messages.

The ``kubernetes`` client raises ``ApiException`` with the server's ``v1/Status`` as raw
text, and wraps connection failures in urllib3's retry errors whose text carries URLs and
pool names. These helpers take out the parts worth telling a person.
"""

import json
from typing import Any

import kubernetes
import urllib3

from kargo_dagster.redaction import basic_auth_secrets, header_secrets

__all__ = ["client_secrets", "connection_cause", "status_body"]


def client_secrets(api_client: kubernetes.client.ApiClient) -> tuple[str, ...]:
    """What the client sends that an API server (or a proxy in front of it) may echo back:
    its bearer token or API keys in their header forms, and a basic-auth password."""
    configuration = api_client.configuration
    secrets: list[str] = []
    prefixes = configuration.api_key_prefix or {}
    for name, key in (configuration.api_key or {}).items():
        if key:
            prefix = prefixes.get(name)
            secrets.extend(header_secrets(f"{prefix} {key}" if prefix else str(key)))
    if configuration.password:
        secrets.extend(basic_auth_secrets(configuration.username or "", configuration.password))
        secrets.append(configuration.password)
    return tuple(dict.fromkeys(secrets))


def status_body(error: kubernetes.client.ApiException) -> dict[str, Any]:
    try:
        body = json.loads(error.body) if error.body else {}
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def connection_cause(error: BaseException) -> str:
    """What went wrong underneath urllib3's wrapping, without its URLs and pool names."""
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and seen not in chain:
        chain.append(seen)
        if isinstance(seen, urllib3.exceptions.MaxRetryError) and seen.reason is not None:
            seen = seen.reason
        else:
            seen = seen.__cause__ or seen.__context__
    # urllib3 files a refused connection under its timeouts; the OS error says which it was.
    for cause in chain:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError) and cause.strerror:
            return cause.strerror
    if any(isinstance(c, TimeoutError | urllib3.exceptions.TimeoutError) for c in chain):
        return "the request timed out"
    return type(chain[-1]).__name__

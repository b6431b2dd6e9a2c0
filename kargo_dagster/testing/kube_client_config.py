"""How the real ``kubernetes`` client reaches the fake Kubernetes API server.

Code that takes an ``ApiClient`` gets one from :func:`api_client`; code that reads a
kubeconfig file (``kubernetes.config.load_kube_config``, dagster-k8s's ``PipesK8sClient``)
gets one from :func:`write_kubeconfig`. Neither carries credentials: the fake serves
everyone. :func:`error_status` reads back the ``v1/Status`` body of a refused request from
the exception the client raises.
"""

import json
from pathlib import Path
from typing import Any

import kubernetes
import yaml

__all__ = ["api_client", "error_status", "write_kubeconfig"]

# The cluster, user and context name in written kubeconfigs.
_CONTEXT = "fake-kube-api"


def api_client(url: str) -> kubernetes.client.ApiClient:
    """A real ``kubernetes`` client configured for the server at ``url``."""
    configuration = kubernetes.client.Configuration()
    configuration.host = url
    return kubernetes.client.ApiClient(configuration)


def write_kubeconfig(url: str, path: str | Path, namespace: str = "default") -> Path:
    """Write a kubeconfig whose current context reaches the server at ``url``.

    Args:
        url: The server's base URL.
        path: The file to write (its directory must exist).
        namespace: The context's default namespace.

    Returns:
        The path written.
    """
    name = _CONTEXT
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url}}],
        "users": [{"name": name, "user": {}}],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
        ],
        "current-context": name,
        "preferences": {},
    }
    target = Path(path)
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def error_status(error: kubernetes.client.ApiException) -> dict[str, Any]:
    """The ``v1/Status`` body of an error the ``kubernetes`` client raised.

    Raises:
        ValueError: The error carries no JSON body.
    """
    if not error.body:
        raise ValueError(f"the API error {error.status} has no body")
    return json.loads(error.body)

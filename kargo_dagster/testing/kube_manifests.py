"""Manifests of built-in kinds for tests to seed the fake Kubernetes API server with.

:func:`secret` and :func:`config_map` build ``v1`` Secrets and ConfigMaps as the API
server stores them (Secret ``data`` base64-encoded), ready for ``FakeKubeAPI.add``.
"""

import base64
from collections.abc import Mapping
from typing import Any

__all__ = ["config_map", "secret"]


def secret(
    namespace: str,
    name: str,
    data: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``v1/Secret`` manifest with ``data`` base64-encoded, as the API server stores it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def config_map(
    namespace: str,
    name: str,
    data: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``v1/ConfigMap`` manifest."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "data": dict(data),
    }

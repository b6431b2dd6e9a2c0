"""Kubernetes API clients for the connections ``KargoResource`` configures.

Kept apart from :mod:`kargo_dagster.defs.resources`, which imports this module only when a
connection is used: importing the ``kubernetes`` package costs about 0.3 s, paid otherwise by
every run and code server, most of which never talk to Kubernetes.
"""

import os
from typing import TYPE_CHECKING

import kubernetes

from kargo_dagster.clients.argocd_applications import ArgoCDError

if TYPE_CHECKING:
    from kargo_dagster.defs.resources import ArgoCDKubernetes, KubernetesCredentials

__all__ = ["argocd_api_client", "credentials_api_client"]


def credentials_api_client(settings: "KubernetesCredentials") -> kubernetes.client.ApiClient:
    """The client that reads Kargo credential Secrets: ``host``, a kubeconfig, or in-cluster."""
    if settings.host:
        configuration = kubernetes.client.Configuration()
        configuration.host = settings.host
        return kubernetes.client.ApiClient(configuration)
    if settings.kubeconfig or os.environ.get("KUBECONFIG"):
        return kubernetes.config.new_client_from_config(
            config_file=settings.kubeconfig, context=settings.context
        )
    kubernetes.config.load_incluster_config()
    return kubernetes.client.ApiClient()


def argocd_api_client(settings: "ArgoCDKubernetes", token: str) -> kubernetes.client.ApiClient:
    """The client for Argo CD's Applications: ``host`` with ``token``, a kubeconfig, in-cluster.

    Raises:
        ArgoCDError: The settings cannot be used (no kubeconfig, a bad file or context).
    """
    configuration = kubernetes.client.Configuration()
    try:
        if settings.host:
            configuration.host = settings.host
            if token:
                configuration.api_key = {"authorization": token}
                configuration.api_key_prefix = {"authorization": "Bearer"}
            if settings.ca_cert_file:
                configuration.ssl_ca_cert = settings.ca_cert_file
            configuration.verify_ssl = not settings.insecure_skip_tls_verify
            return kubernetes.client.ApiClient(configuration)
        if settings.kubeconfig or os.environ.get("KUBECONFIG"):
            return kubernetes.config.new_client_from_config(
                config_file=settings.kubeconfig, context=settings.context, persist_config=False
            )
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            kubernetes.config.load_incluster_config(client_configuration=configuration)
            return kubernetes.client.ApiClient(configuration)
        return kubernetes.config.new_client_from_config(
            context=settings.context, persist_config=False
        )
    except (kubernetes.config.ConfigException, OSError) as error:
        # The loaders' messages name files and contexts, not their secrets.
        raise ArgoCDError(
            f"cannot configure the Kubernetes connection to Argo CD (KargoResource.argocd): {error}"
        ) from None

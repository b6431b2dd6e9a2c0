"""Kubernetes API clients for the connections ``KargoResource`` configures.

Every connection is found the way Kargo's controllers find theirs (controller-runtime's
chain): an explicit ``host``, then an explicit ``kubeconfig``, then ``$KUBECONFIG``, then the
pod's service account when running in a Kubernetes pod, then ``~/.kube/config``. So inside a
cluster nothing needs configuring, as with Kargo; when nothing is found the error lists what
was tried.

Kept apart from :mod:`kargo_dagster.defs.resources`, which imports this module only when a
connection is used: importing the ``kubernetes`` package costs about 0.3 s, paid otherwise by
every run and code server, most of which never talk to Kubernetes.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import kubernetes

from kargo_dagster.clients.argocd.applications import ArgoCDError
from kargo_dagster.errors import CredentialsError, KargoDagsterError

if TYPE_CHECKING:
    from kargo_dagster.defs.resource_settings import ArgoCDKubernetes, KubernetesCredentials

__all__ = [
    "SERVICE_ACCOUNT_DIR",
    "argocd_api_client",
    "credentials_api_client",
    "deployment_api_client",
]

# Where Kubernetes mounts a pod's service account token and CA bundle.
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class _Explicit:
    """The settings that override the chain; all empty means the chain alone decides.

    ``setting`` names them in messages; ``settable`` is False where nothing can be set.
    """

    setting: str
    settable: bool = True
    host: str | None = None
    token: str = ""
    ca_cert_file: str | None = None
    insecure_skip_tls_verify: bool = False
    kubeconfig: str | None = None
    context: str | None = None


def credentials_api_client(
    settings: "KubernetesCredentials",
    *,
    environ: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> kubernetes.client.ApiClient:
    """The client that reads Kargo credential Secrets.

    Raises:
        CredentialsError: A setting cannot be used, or nothing in the chain is found.
    """
    explicit = _Explicit(
        setting="KargoResource.kubernetes_credentials",
        host=settings.host,
        kubeconfig=settings.kubeconfig,
        context=settings.context,
    )
    return _connect(
        explicit, "the Kubernetes API for credential Secrets", CredentialsError, environ,
        service_account_dir,
    )  # fmt: skip


def deployment_api_client(
    *, environ: Mapping[str, str] | None = None, service_account_dir: Path = SERVICE_ACCOUNT_DIR
) -> kubernetes.client.ApiClient:
    """The client ``kargo-dagster doctor`` looks at the cluster with: the chain alone.

    Raises:
        KargoDagsterError: Nothing in the chain is found; the message says what was tried.
    """
    return _connect(
        _Explicit(setting="kargo-dagster doctor", settable=False),
        "the Kubernetes API where Dagster runs",
        KargoDagsterError, environ, service_account_dir,
    )  # fmt: skip


def argocd_api_client(
    settings: "ArgoCDKubernetes",
    token: str,
    *,
    setting: str = "KargoResource.argocd.kubernetes",
    environ: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> kubernetes.client.ApiClient:
    """The client for Argo CD's Applications (and Argo Rollouts' AnalysisRuns).

    Args:
        settings: The connection settings.
        token: ``settings.token``, resolved.
        setting: How messages name ``settings``.
        environ: The environment to read (``os.environ`` by default).
        service_account_dir: Where a pod's service account is mounted.

    Raises:
        ArgoCDError: A setting cannot be used (a bad file or context), or nothing in the
            chain is found; the message says what was tried.
    """
    explicit = _Explicit(
        setting=setting,
        host=settings.host,
        token=token,
        ca_cert_file=settings.ca_cert_file,
        insecure_skip_tls_verify=settings.insecure_skip_tls_verify,
        kubeconfig=settings.kubeconfig,
        context=settings.context,
    )
    return _connect(
        explicit, "the Kubernetes API where Argo CD runs", ArgoCDError, environ,
        service_account_dir,
    )  # fmt: skip


def _connect(
    explicit: _Explicit,
    purpose: str,
    error_class: type[KargoDagsterError],
    environ: Mapping[str, str] | None,
    service_account_dir: Path,
) -> kubernetes.client.ApiClient:
    env = os.environ if environ is None else environ
    configuration = kubernetes.client.Configuration()
    token_file = service_account_dir / "token"
    home_config = Path(env.get("HOME") or Path.home()) / ".kube" / "config"
    try:
        if explicit.host:
            configuration.host = explicit.host
            if explicit.token:
                configuration.api_key = {"authorization": explicit.token}
                configuration.api_key_prefix = {"authorization": "Bearer"}
            if explicit.ca_cert_file:
                configuration.ssl_ca_cert = explicit.ca_cert_file
            configuration.verify_ssl = not explicit.insecure_skip_tls_verify
            return kubernetes.client.ApiClient(configuration)
        # KUBECONFIG is read here, not through the client's default, which it fixes at import.
        kubeconfig = explicit.kubeconfig or env.get("KUBECONFIG")
        if kubeconfig:
            return _from_kubeconfig(kubeconfig, explicit.context)
        if env.get("KUBERNETES_SERVICE_HOST") and token_file.is_file():
            kubernetes.config.incluster_config.InClusterConfigLoader(
                token_filename=str(token_file),
                cert_filename=str(service_account_dir / "ca.crt"),
                environ=env,
            ).load_and_set(configuration)
            return kubernetes.client.ApiClient(configuration)
        if home_config.is_file():
            return _from_kubeconfig(str(home_config), explicit.context)
    except (kubernetes.config.ConfigException, OSError) as error:
        # The loaders' messages name files and contexts, not their secrets.
        raise error_class(
            f"cannot configure the connection to {purpose} ({explicit.setting}): {error}"
        ) from None
    pod = (
        f"no token at {token_file}"
        if env.get("KUBERNETES_SERVICE_HOST")
        else "not in a Kubernetes pod: $KUBERNETES_SERVICE_HOST is unset"
    )
    tried = [
        *([f"{explicit.setting}.host and .kubeconfig (not set)"] if explicit.settable else []),
        "$KUBECONFIG (not set)",
        f"the pod's service account ({pod})",
        f"{home_config} (no such file)",
    ]
    raise error_class(f"no connection to {purpose} is configured; tried {', '.join(tried)}")


def _from_kubeconfig(path: str, context: str | None) -> kubernetes.client.ApiClient:
    return kubernetes.config.new_client_from_config(
        config_file=path, context=context, persist_config=False
    )

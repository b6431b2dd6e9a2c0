"""``KargoResource``: what kargo-dagster needs beyond the manifests, as Dagster configuration.

Credentials come from three places, asked in this order: the resource's own ``credentials``
list (use ``dg.EnvVar`` for passwords, so the UI shows the variable's name, not its value),
``KARGO_DAGSTER_CREDS_*`` environment variables, and, when configured, Kargo credential
Secrets read through the Kubernetes API.
"""

import os
from pathlib import Path
from typing import Literal

import dagster as dg
import kubernetes
from pydantic import Field, SecretStr

from kargo_dagster.clients.kube_credentials import KubernetesCredentialStore
from kargo_dagster.credentials import (
    ChainedCredentialStore,
    CredentialRule,
    Credentials,
    CredentialStore,
    StaticCredentialStore,
    credentials_from_env,
)
from kargo_dagster.discovery.subscribers import default_work_dir
from kargo_dagster.promotion.step import ToolPaths


class RepositoryCredentials(dg.Config):
    """Credentials for the repositories matching ``repo_url`` (a Kargo credential Secret)."""

    type: Literal["git", "helm", "image"] = Field(description="git, helm or image")
    repo_url: str = Field(description="The repository URL, or a regex with repo_url_is_regex")
    repo_url_is_regex: bool = False
    username: str = ""
    password: str = Field(description="The password or token; set it with dg.EnvVar")


class KubernetesCredentials(dg.Config):
    """Where to read Kargo credential Secrets from the Kubernetes API."""

    host: str | None = Field(default=None, description="API server URL; default: kubeconfig")
    kubeconfig: str | None = Field(default=None, description="Path to a kubeconfig file")
    context: str | None = Field(default=None, description="The kubeconfig context")
    shared_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces searched after the Project's own (Kargo's global credentials)",
    )


class KargoResource(dg.ConfigurableResource):
    """Settings shared by every Warehouse sensor and Stage of a code location.

    Examples:
        >>> KargoResource(  # doctest: +SKIP
        ...     credentials=[
        ...         RepositoryCredentials(
        ...             type="image",
        ...             repo_url="ghcr.io/acme/app",
        ...             username="bot",
        ...             password=dg.EnvVar("GHCR_TOKEN"),
        ...         )
        ...     ]
        ... )
    """

    work_dir: str = Field(
        default="",
        description=(
            "Where git mirrors and discovery caches live; default $KARGO_DAGSTER_WORK_DIR, "
            "else $DAGSTER_HOME/kargo-dagster, else ~/.cache/kargo-dagster"
        ),
    )
    credentials: list[RepositoryCredentials] = Field(default_factory=list)
    credentials_from_env: bool = Field(
        default=True, description="Also read KARGO_DAGSTER_CREDS_* environment variables"
    )
    kubernetes_credentials: KubernetesCredentials | None = None
    insecure_registries: list[str] = Field(
        default_factory=list,
        description="Registries (host[:port]) to reach over plain HTTP besides loopback ones",
    )
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    kubectl: str = Field(default="", description="kubectl binary (kustomize-build); default PATH")
    kustomize: str = Field(default="", description="kustomize binary, preferred over kubectl")
    helm: str = Field(default="", description="helm binary (helm-template); default PATH")

    def resolved_work_dir(self) -> Path:
        """The directory for mirrors and caches, created if needed."""
        if not self.work_dir:
            return default_work_dir()
        path = Path(self.work_dir).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def tool_paths(self) -> ToolPaths:
        """Where promotion steps find kubectl, kustomize and helm."""
        return ToolPaths(
            kubectl=self.kubectl or None, kustomize=self.kustomize or None, helm=self.helm or None
        )

    def credential_store(self, project: str) -> CredentialStore:
        """The credentials for one Project, from every configured source."""
        stores: list[CredentialStore] = [
            StaticCredentialStore(
                tuple(
                    CredentialRule(
                        kind=c.type,
                        repo_url=c.repo_url,
                        is_regex=c.repo_url_is_regex,
                        credentials=Credentials(
                            _resolved(c.username), SecretStr(_resolved(c.password))
                        ),
                    )
                    for c in self.credentials
                )
            )
        ]
        if self.credentials_from_env:
            stores.append(credentials_from_env(os.environ))
        if self.kubernetes_credentials is not None:
            settings = self.kubernetes_credentials
            stores.append(
                KubernetesCredentialStore(
                    _kube_api_client(settings), [project, *settings.shared_namespaces]
                )
            )
        return ChainedCredentialStore(stores)


def _resolved(value: str) -> str:
    # Sensors read this resource directly (building resources costs more than a quiet
    # discovery tick), so values given as dg.EnvVar are resolved here.
    if isinstance(value, dg.EnvVar):
        return value.get_value() or ""
    return value


def _kube_api_client(settings: KubernetesCredentials) -> kubernetes.client.ApiClient:
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

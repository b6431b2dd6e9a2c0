"""``KargoResource``: what kargo-dagster needs beyond the manifests, as Dagster configuration.

Credentials come from three places, asked in this order: the resource's own ``credentials``
list (use ``dg.EnvVar`` for passwords, so the UI shows the variable's name, not its value),
``KARGO_DAGSTER_CREDS_*`` environment variables, and, when configured, Kargo credential
Secrets read through the Kubernetes API. Each may be a password, an SSH key (checked against
the host keys of ``ssh_known_hosts`` and ``$KARGO_DAGSTER_SSH_KNOWN_HOSTS``), a GitHub App, an
AWS access key for ECR or a Google service account key (exchanged for short-lived tokens).

The expression functions ``configMap()``, ``secret()``, ``sharedConfigMap()`` and
``sharedSecret()`` read the maps ``config_maps`` and ``secrets`` (keyed
``"<project>/<name>"``), ``shared_config_maps`` and ``shared_secrets`` (keyed by name; every
shared Secret given here counts as a generic credential), then, with
``kubernetes_credentials``, the ConfigMaps and Secrets of that cluster: the Project's
namespace, or ``shared_resources_namespace``. Give Secret values as ``dg.EnvVar``.

The Argo CD steps (``argocd-update``, ``argocd-wait``) and the ``health`` check reach Argo CD
through ``argocd``: :class:`ArgoCDSettings`, which names the transport (``kubernetes``:
Application resources through the Kubernetes API where Argo CD runs, as Kargo does; or
``rest``) and its connection. Without it they use Kargo's defaults: the Kubernetes API found
through ``$KUBECONFIG``, the pod's service account or ``~/.kube/config``, namespace ``argocd``.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from kargo_dagster.clients.argocd.applications import ArgoCDError
from kargo_dagster.clients.argocd.rest_api import RestArgoCDApplications
from kargo_dagster.clients.credential_exchange import (
    ExchangingCredentialStore,
    cloud_identity_from_env,
)
from kargo_dagster.clients.resource_data import (
    ChainedResourceData,
    LazyResourceData,
    ResourceData,
    StaticResourceData,
)
from kargo_dagster.credentials import (
    AWS_ACCESS_KEY_ID,
    AWS_REGION,
    AWS_SECRET_ACCESS_KEY,
    GCP_SERVICE_ACCOUNT_KEY,
    GITHUB_APP_CLIENT_ID,
    GITHUB_APP_ID,
    GITHUB_APP_INSTALLATION_ID,
    GITHUB_APP_PRIVATE_KEY,
    SSH_PRIVATE_KEY,
    ChainedCredentialStore,
    CredentialRule,
    Credentials,
    CredentialStore,
    StaticCredentialStore,
    credentials_from_env,
    credentials_from_fields,
)
from kargo_dagster.defs.resource_settings import (
    AnalysisPods,
    AnalysisSettings,
    ArgoCDKubernetes,
    ArgoCDRest,
    ArgoCDSettings,
    KubernetesCredentials,
    RepositoryCredentials,
    RolloutsSettings,
)
from kargo_dagster.discovery.subscribers import default_work_dir
from kargo_dagster.promotion.step import ToolPaths
from kargo_dagster.ssh_known_hosts import (
    KnownHostsCredentialStore,
    known_hosts_from_env,
    known_hosts_lines,
)

__all__ = [
    "AnalysisPods",
    "AnalysisSettings",
    "ArgoCDKubernetes",
    "ArgoCDRest",
    "ArgoCDSettings",
    "KargoResource",
    "KubernetesCredentials",
    "RepositoryCredentials",
    "RolloutsSettings",
    "literal_secrets",
    "misnamed_resource_data",
    "rollouts_api_client",
]

if TYPE_CHECKING:
    import kubernetes

    from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications


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
    ssh_known_hosts: str = Field(
        default="",
        description=(
            "known_hosts lines (as ssh-keyscan prints them) of the git servers reached over "
            "SSH; added to $KARGO_DAGSTER_SSH_KNOWN_HOSTS. Other hosts' keys are refused"
        ),
    )
    cloud_identity: bool | None = Field(
        default=None,
        description=(
            "Reach ECR and Google registries no credential covers with the machine's own cloud "
            "identity (IRSA, EKS Pod Identity, instance profile; GKE Workload Identity); "
            "None: as $KARGO_DAGSTER_CLOUD_IDENTITY says"
        ),
    )
    config_maps: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="What configMap(name) reads, keyed '<project>/<name>'; before the cluster",
    )
    secrets: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description=(
            "What secret(name) reads, keyed '<project>/<name>'; give each value with dg.EnvVar"
        ),
    )
    shared_config_maps: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="What sharedConfigMap(name) reads, keyed by name"
    )
    shared_secrets: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="What sharedSecret(name) reads, keyed by name; give each value with dg.EnvVar",
    )
    insecure_registries: list[str] = Field(
        default_factory=list,
        description="Registries (host[:port]) to reach over plain HTTP besides loopback ones",
    )
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    request_deadline_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long any one request (registry, Helm, Argo CD, Kubernetes) may take",
    )
    discovery_budget_seconds: float | None = Field(
        default=50.0,
        gt=0,
        description=(
            "How long one discovery of a Warehouse may take in all; below Dagster's sensor "
            "timeout (DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS, 60 s), so a tick says which request "
            "ran out; None: no budget"
        ),
    )
    step_budget_seconds: float | None = Field(
        default=900.0,
        gt=0,
        description=(
            "How long one attempt of a promotion step may take in all; every request and git "
            "command it makes ends by then, naming the step; None: no budget"
        ),
    )
    groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Members of the groups protected Stages name as group:<name> in "
            "kargo-dagster.io/promoters and kargo-dagster.io/approvers"
        ),
    )
    kubectl: str = Field(default="", description="kubectl binary (kustomize-build); default PATH")
    kustomize: str = Field(default="", description="kustomize binary, preferred over kubectl")
    helm: str = Field(default="", description="helm binary (helm-template); default PATH")
    argocd: ArgoCDSettings | None = Field(
        default=None,
        description=(
            "Argo CD, for argocd-update, argocd-wait and the health check; default: its "
            "Applications in namespace argocd, through $KUBECONFIG, the pod's service account "
            "or ~/.kube/config, as Kargo finds them"
        ),
    )
    rollouts: RolloutsSettings | None = Field(
        default=None,
        description=(
            "Argo Rollouts, to run Stage verification as AnalysisRuns in its cluster; "
            "default: kargo-dagster runs the AnalysisTemplates itself (see `analysis`)"
        ),
    )
    analysis: AnalysisSettings | None = Field(
        default=None,
        description="How AnalysisTemplates run without Argo Rollouts; default: web metrics only",
    )

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
                        credentials=_repository_credentials(c, index),
                    )
                    for index, c in enumerate(self.credentials)
                )
            )
        ]
        if self.credentials_from_env:
            stores.append(credentials_from_env(os.environ))
        if self.kubernetes_credentials is not None:
            # Imported here: the Kubernetes client is slow to import and often unused.
            from kargo_dagster.clients.kube.credentials import KubernetesCredentialStore
            from kargo_dagster.defs.kube_connections import credentials_api_client

            settings = self.kubernetes_credentials
            stores.append(
                KubernetesCredentialStore(
                    credentials_api_client(settings),
                    [project, *settings.shared_namespaces],
                    request_timeout=self.request_timeout_seconds,
                    request_deadline=self.request_deadline_seconds,
                )
            )
        known_hosts = known_hosts_lines(self.ssh_known_hosts, known_hosts_from_env(os.environ))
        chained = KnownHostsCredentialStore(ChainedCredentialStore(stores), known_hosts)
        cloud_identity = self.cloud_identity
        if cloud_identity is None:
            cloud_identity = cloud_identity_from_env(os.environ)
        return ExchangingCredentialStore(chained, cloud_identity=cloud_identity)

    def resource_data(self) -> ResourceData | None:
        """Where ``configMap()``, ``secret()`` and their shared forms read: the maps given
        here, then, with ``kubernetes_credentials``, the cluster (connected on first read).
        """
        sources: list[ResourceData] = []
        if self.config_maps or self.secrets or self.shared_config_maps or self.shared_secrets:
            sources.append(
                StaticResourceData(
                    config_maps=self.config_maps,
                    secrets=_resolved_maps(self.secrets),
                    shared_config_maps=self.shared_config_maps,
                    shared_secrets=_resolved_maps(self.shared_secrets),
                )
            )
        settings = self.kubernetes_credentials
        if settings is not None:
            sources.append(LazyResourceData(lambda: self._kubernetes_data(settings)))
        return ChainedResourceData(sources) if sources else None

    def _kubernetes_data(self, settings: KubernetesCredentials) -> ResourceData:
        # Imported here: the Kubernetes client is slow to import and often unused.
        from kargo_dagster.clients.kube.resource_data import KubernetesResourceData
        from kargo_dagster.defs.kube_connections import credentials_api_client

        return KubernetesResourceData(
            credentials_api_client(settings),
            shared_namespace=settings.shared_resources_namespace,
            request_timeout=self.request_timeout_seconds,
            request_deadline=self.request_deadline_seconds,
        )

    def argocd_settings(self) -> ArgoCDSettings:
        """The ``argocd`` setting, or the defaults (Kargo's) when it is not given."""
        return self.argocd or ArgoCDSettings()

    def argocd_applications(self) -> "KubernetesArgoCDApplications | RestArgoCDApplications":
        """A client for Argo CD's Applications; the caller closes it.

        Without an ``argocd`` setting, Argo CD's Applications are read in namespace ``argocd``
        of the Kubernetes API found as Kargo finds it: ``$KUBECONFIG``, the pod's service
        account, ``~/.kube/config``.

        Raises:
            ArgoCDError: The connection settings cannot be used (a bad file or context), or
                none is found; the message says what was tried.
        """
        settings = self.argocd_settings()
        if settings.transport == "rest":
            rest = settings.rest
            if rest is None:
                raise ArgoCDError(
                    "KargoResource.argocd: transport 'rest' needs `rest` (Argo CD's url and token)"
                )
            verify: bool | str = rest.ca_cert_file or True
            return RestArgoCDApplications(
                rest.url,
                _resolved(rest.token),
                default_namespace=settings.namespace,
                poll_interval=settings.poll_interval_seconds,
                request_timeout=settings.request_timeout_seconds,
                request_deadline=self.request_deadline_seconds,
                verify_tls=False if rest.insecure_skip_tls_verify else verify,
            )
        # Imported here: the Kubernetes client is slow to import and often unused.
        from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications
        from kargo_dagster.defs.kube_connections import argocd_api_client

        connection = settings.kubernetes or ArgoCDKubernetes()
        return KubernetesArgoCDApplications(
            argocd_api_client(connection, _resolved(connection.token or "")),
            default_namespace=settings.namespace,
            poll_interval=settings.poll_interval_seconds,
            request_timeout=settings.request_timeout_seconds,
            request_deadline=self.request_deadline_seconds,
        )


def rollouts_api_client(settings: RolloutsSettings) -> "kubernetes.client.ApiClient":
    """The Kubernetes client for the Argo Rollouts cluster ``settings`` name.

    Raises:
        ArgoCDError: The connection settings cannot be used (no kubeconfig, bad file).
    """
    # Imported here: the Kubernetes client is slow to import and often unused.
    from kargo_dagster.defs.kube_connections import argocd_api_client

    connection = settings.kubernetes or ArgoCDKubernetes()
    return argocd_api_client(
        connection, _resolved(connection.token or ""), setting="KargoResource.rollouts.kubernetes"
    )


def literal_secrets(kargo: KargoResource) -> list[str]:
    """The secret settings of ``kargo`` given as literal values rather than ``dg.EnvVar``.

    Dagster keeps a resource's settings in every run's snapshot, in the instance's database,
    and shows them in the UI; a ``dg.EnvVar`` is kept as the variable's name only.
    """
    secrets: list[tuple[str, str | None]] = [
        (f"credentials[{i}].password", c.password) for i, c in enumerate(kargo.credentials)
    ]
    argocd = kargo.argocd
    if argocd is not None and argocd.kubernetes is not None:
        secrets.append(("argocd.kubernetes.token", argocd.kubernetes.token))
    if argocd is not None and argocd.rest is not None:
        secrets.append(("argocd.rest.token", argocd.rest.token))
    if kargo.rollouts is not None and kargo.rollouts.kubernetes is not None:
        secrets.append(("rollouts.kubernetes.token", kargo.rollouts.kubernetes.token))
    for setting in ("secrets", "shared_secrets"):
        for name, data in getattr(kargo, setting).items():
            secrets.extend((f"{setting}[{name!r}].{key}", value) for key, value in data.items())
    return [name for name, value in secrets if value and not isinstance(value, dg.EnvVar)]


def misnamed_resource_data(kargo: KargoResource) -> list[str]:
    """The keys of ``config_maps`` and ``secrets`` that are not ``<project>/<name>``."""
    return [
        f"{setting}[{key!r}]"
        for setting in ("config_maps", "secrets")
        for key in getattr(kargo, setting)
        if len(parts := key.split("/")) != 2 or not all(parts)
    ]


def _resolved_maps(maps: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {name: {k: _resolved(v) for k, v in data.items()} for name, data in maps.items()}


# Kargo's Secret key for each field of RepositoryCredentials.
_CREDENTIAL_KEYS = {
    "username": "username",
    "password": "password",
    "ssh_private_key": SSH_PRIVATE_KEY,
    "github_app_id": GITHUB_APP_ID,
    "github_app_client_id": GITHUB_APP_CLIENT_ID,
    "github_app_installation_id": GITHUB_APP_INSTALLATION_ID,
    "github_app_private_key": GITHUB_APP_PRIVATE_KEY,
    "aws_region": AWS_REGION,
    "aws_access_key_id": AWS_ACCESS_KEY_ID,
    "aws_secret_access_key": AWS_SECRET_ACCESS_KEY,
    "gcp_service_account_key": GCP_SERVICE_ACCOUNT_KEY,
}


def _repository_credentials(entry: RepositoryCredentials, index: int) -> Credentials:
    where = f"KargoResource credentials[{index}] ({entry.repo_url})"
    fields = {key: _resolved(getattr(entry, name)) for name, key in _CREDENTIAL_KEYS.items()}
    return credentials_from_fields(
        entry.type, fields, where=where, names={key: name for name, key in _CREDENTIAL_KEYS.items()}
    )


def _resolved(value: str) -> str:
    # Sensors read this resource directly (building resources costs more than a quiet
    # discovery tick), so values given as dg.EnvVar are resolved here.
    if isinstance(value, dg.EnvVar):
        return value.get_value() or ""
    return value

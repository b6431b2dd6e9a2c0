"""``KargoResource``: what kargo-dagster needs beyond the manifests, as Dagster configuration.

Credentials come from three places, asked in this order: the resource's own ``credentials``
list (use ``dg.EnvVar`` for passwords, so the UI shows the variable's name, not its value),
``KARGO_DAGSTER_CREDS_*`` environment variables, and, when configured, Kargo credential
Secrets read through the Kubernetes API.

The Argo CD steps (``argocd-update``, ``argocd-wait``) and the ``health`` check reach Argo CD
through ``argocd``: :class:`ArgoCDSettings`, which names the transport (``kubernetes``:
Application resources through the Kubernetes API where Argo CD runs, as Kargo does; or
``rest``) and its connection. Without it they use Kargo's defaults: the Kubernetes API found
through ``$KUBECONFIG``, the pod's service account or ``~/.kube/config``, namespace ``argocd``.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import dagster as dg
from pydantic import Field, SecretStr

from kargo_dagster.clients.argocd_applications import DEFAULT_NAMESPACE, ArgoCDError
from kargo_dagster.clients.argocd_rest import RestArgoCDApplications
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

if TYPE_CHECKING:
    import kubernetes

    from kargo_dagster.clients.argocd_kubernetes import KubernetesArgoCDApplications


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


class ArgoCDKubernetes(dg.Config):
    """How to reach the Kubernetes API where Argo CD's Applications live.

    With ``host``, that API server (with ``token`` and ``ca_cert_file`` if it needs them);
    otherwise ``kubeconfig`` (or ``$KUBECONFIG``) and ``context``; otherwise, inside a pod,
    its service account; otherwise ``~/.kube/config``.
    """

    host: str | None = Field(default=None, description="API server URL; default: kubeconfig")
    token: str | None = Field(
        default=None, description="Bearer token for host; set it with dg.EnvVar"
    )
    ca_cert_file: str | None = Field(default=None, description="CA bundle to verify host by")
    insecure_skip_tls_verify: bool = Field(
        default=False, description="Do not verify host's TLS certificate"
    )
    kubeconfig: str | None = Field(default=None, description="Path to a kubeconfig file")
    context: str | None = Field(default=None, description="The kubeconfig context")


class ArgoCDRest(dg.Config):
    """How to reach Argo CD's own REST API (``transport="rest"``), with an API token."""

    url: str = Field(description="Argo CD's API server, e.g. https://argocd.example.com")
    token: str = Field(description="An Argo CD account or project token; set it with dg.EnvVar")
    ca_cert_file: str | None = Field(default=None, description="CA bundle to verify url by")
    insecure_skip_tls_verify: bool = Field(
        default=False, description="Do not verify the server's TLS certificate"
    )


class ArgoCDSettings(dg.Config):
    """Where the Argo CD steps find Argo CD.

    Examples:
        >>> KargoResource(  # doctest: +SKIP
        ...     argocd=ArgoCDSettings(
        ...         kubernetes=ArgoCDKubernetes(
        ...             host="https://kube.example.com", token=dg.EnvVar("ARGOCD_KUBE_TOKEN")
        ...         )
        ...     )
        ... )
    """

    transport: Literal["kubernetes", "rest"] = Field(
        default="kubernetes",
        description=(
            "How to reach Argo CD: 'kubernetes' (its Application resources, as Kargo does) "
            "or 'rest' (Argo CD's REST API with a token, see `rest`)"
        ),
    )
    namespace: str = Field(
        default=DEFAULT_NAMESPACE,
        description="Where Applications are when a step names no namespace",
    )
    kubernetes: ArgoCDKubernetes | None = Field(
        default=None,
        description=(
            "The Kubernetes connection; default: $KUBECONFIG, the pod's service account, "
            "~/.kube/config"
        ),
    )
    rest: ArgoCDRest | None = Field(
        default=None, description="Argo CD's REST API, for transport 'rest'"
    )
    poll_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often waiting steps look at Applications again"
    )
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    health_timeout_seconds: float = Field(
        default=300.0,
        ge=0,
        description=(
            "How long the health check waits for Applications to settle (Healthy or "
            "Unhealthy) before it fails as Progressing or Unknown"
        ),
    )
    url: str | None = Field(
        default=None, description="Argo CD's web UI (https://argocd.example.com), for links"
    )


class RolloutsSettings(dg.Config):
    """Where Stage verification runs its AnalysisRuns: a cluster with Argo Rollouts.

    The runs are created in the Project's namespace, as Kargo creates them; the Kubernetes
    connection is found as for Argo CD (``host``, a kubeconfig, in-cluster).
    """

    kubernetes: ArgoCDKubernetes | None = Field(
        default=None,
        description=(
            "The Kubernetes connection; default: $KUBECONFIG, the pod's service account, "
            "~/.kube/config"
        ),
    )
    timeout_seconds: float = Field(
        default=600.0, ge=0, description="How long verified waits for an AnalysisRun to finish"
    )
    poll_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often verified looks at the AnalysisRun again"
    )
    request_timeout_seconds: float = Field(default=10.0, gt=0)


class AnalysisPods(dg.Config):
    """Where ``job`` metrics run their pods when kargo-dagster runs the analysis itself.

    Each measurement of a ``job`` metric becomes one pod from the metric's Job template,
    launched and followed by dagster-k8s's ``PipesK8sClient``: the pod's logs stream into the
    check's run, and a pod that uses ``dagster-pipes`` can report metadata and its own
    verdict. The connection is a kubeconfig (``kubeconfig`` or ``$KUBECONFIG``, ``context``)
    or, with ``in_cluster``, the pod's service account.
    """

    kubeconfig: str | None = Field(default=None, description="Path to a kubeconfig file")
    context: str | None = Field(default=None, description="The kubeconfig context")
    in_cluster: bool = Field(
        default=False, description="Use the service account of the pod Dagster runs in"
    )
    namespace: str | None = Field(
        default=None, description="Where the pods run; default: the Project's namespace"
    )
    poll_interval_seconds: float = Field(
        default=2.0, gt=0, description="How often the pod's state is read while it runs"
    )


class AnalysisSettings(dg.Config):
    """How kargo-dagster runs a Stage's AnalysisTemplates itself, without Argo Rollouts.

    Used when ``KargoResource.rollouts`` is not set. ``web`` metrics probe their URL from
    the process running the check; ``job`` metrics need ``pods``. Other metric providers
    (Prometheus, Datadog...) need the Argo Rollouts controller.
    """

    timeout_seconds: float = Field(
        default=600.0, ge=0, description="How long verified lets the analysis run"
    )
    pods: AnalysisPods | None = Field(
        default=None, description="The Kubernetes connection for `job` metrics; default: none"
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
            # Imported here: the Kubernetes client is slow to import and often unused.
            from kargo_dagster.clients.kube_credentials import KubernetesCredentialStore
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
        return ChainedCredentialStore(stores)

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
        from kargo_dagster.clients.argocd_kubernetes import KubernetesArgoCDApplications
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
    return [name for name, value in secrets if value and not isinstance(value, dg.EnvVar)]


def _resolved(value: str) -> str:
    # Sensors read this resource directly (building resources costs more than a quiet
    # discovery tick), so values given as dg.EnvVar are resolved here.
    if isinstance(value, dg.EnvVar):
        return value.get_value() or ""
    return value

"""The settings objects :class:`~kargo_dagster.defs.resources.KargoResource` is made of.

Each is Dagster configuration (``dg.Config``): credentials, the Kubernetes connection for
credential Secrets, Argo CD's transport and connection, Argo Rollouts for verification, and
how kargo-dagster runs AnalysisTemplates itself. They are importable from
:mod:`kargo_dagster.defs.resources` too, where users have always found them.
"""

from typing import Literal

import dagster as dg
from pydantic import Field

from kargo_dagster.clients.argocd.applications import DEFAULT_NAMESPACE
from kargo_dagster.clients.resource_data import (
    SHARED_RESOURCES_NAMESPACE,
    SYSTEM_RESOURCES_NAMESPACE,
)

__all__ = [
    "AnalysisPods",
    "AnalysisSettings",
    "ArgoCDKubernetes",
    "ArgoCDRest",
    "ArgoCDSettings",
    "KubernetesCredentials",
    "RepositoryCredentials",
    "RolloutsSettings",
]


class RepositoryCredentials(dg.Config):
    """Credentials for the repositories matching ``repo_url`` (a Kargo credential Secret)."""

    type: Literal["git", "helm", "image"] = Field(description="git, helm or image")
    repo_url: str = Field(description="The repository URL, or a regex with repo_url_is_regex")
    repo_url_is_regex: bool = False
    username: str = ""
    password: str = Field(default="", description="The password or token; set it with dg.EnvVar")
    ssh_private_key: str = Field(
        default="", description="git over SSH: the private key; set it with dg.EnvVar"
    )
    github_app_id: str = Field(default="", description="GitHub App: its ID (or client ID)")
    github_app_client_id: str = Field(default="", description="GitHub App: its client ID")
    github_app_installation_id: str = Field(default="", description="GitHub App: installation")
    github_app_private_key: str = Field(
        default="", description="GitHub App: its private key (PEM); set it with dg.EnvVar"
    )
    aws_region: str = Field(default="", description="ECR: the registry's AWS region")
    aws_access_key_id: str = Field(default="", description="ECR: the AWS access key ID")
    aws_secret_access_key: str = Field(
        default="", description="ECR: the AWS secret access key; set it with dg.EnvVar"
    )
    gcp_service_account_key: str = Field(
        default="",
        description="Google Artifact Registry: a service account key file; set it with dg.EnvVar",
    )


class KubernetesCredentials(dg.Config):
    """Where to read Kargo credential Secrets from the Kubernetes API."""

    host: str | None = Field(default=None, description="API server URL; default: kubeconfig")
    kubeconfig: str | None = Field(default=None, description="Path to a kubeconfig file")
    context: str | None = Field(default=None, description="The kubeconfig context")
    shared_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces searched after the Project's own (Kargo's global credentials)",
    )
    shared_resources_namespace: str = Field(
        default=SHARED_RESOURCES_NAMESPACE,
        description="Where sharedConfigMap() and sharedSecret() read (Kargo's default)",
    )
    system_resources_namespace: str = Field(
        default=SYSTEM_RESOURCES_NAMESPACE,
        description="Where the ClusterConfig's webhook receivers' Secrets are (Kargo's default)",
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

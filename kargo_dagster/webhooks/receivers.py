"""The receivers the manifests configure, each with its secret and its URL path.

Each ProjectConfig's receivers serve their Project; the ClusterConfig's serve every Project, as
Kargo's cluster-level receivers do. A receiver's secret is the referenced Secret's
provider-specific key (``secret``, ``secret-token`` or ``auth-header``). It is read from the
Kubernetes Secret when a Kubernetes connection is configured (in the Project's namespace, or for
a ClusterConfig receiver in Kargo's system resources namespace, ``kargo-system-resources``
unless configured otherwise), then from the environment variable
``KARGO_DAGSTER_WEBHOOK_SECRET_<SECRET NAME>`` (upper case, ``-`` and ``.`` as ``_``), so no
secret is ever written into a file kargo-dagster reads. A receiver whose secret cannot be found
is reported with its config's file and line and is not served.
"""

import base64
import binascii
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

from kargo_dagster.clients.resource_data import SYSTEM_RESOURCES_NAMESPACE
from kargo_dagster.errors import CredentialsError, ManifestProblem
from kargo_dagster.spec import ProjectManifests
from kargo_dagster.spec.cluster_config import ClusterConfig
from kargo_dagster.spec.crosscheck import problem
from kargo_dagster.spec.project import ProjectConfig, WebhookReceiverConfig
from kargo_dagster.webhooks.inbound import Provider
from kargo_dagster.webhooks.paths import receiver_path
from kargo_dagster.webhooks.providers import PROVIDERS

if TYPE_CHECKING:
    import kubernetes

__all__ = [
    "SECRET_ENV_PREFIX",
    "ChainedSecrets",
    "EnvironmentSecrets",
    "KubernetesSecrets",
    "Receiver",
    "SecretSource",
    "build_receivers",
    "secret_env_name",
]

SECRET_ENV_PREFIX = "KARGO_DAGSTER_WEBHOOK_SECRET_"


def secret_env_name(secret_name: str) -> str:
    """The environment variable holding the Secret ``secret_name``'s value."""
    return SECRET_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", secret_name).upper()


class SecretSource(Protocol):
    """Where receivers' secrets are read from.

    ``namespace`` is where Kargo reads the Secret: the Project's namespace, or the system
    resources namespace for a ClusterConfig receiver.
    """

    def read(self, namespace: str, secret_name: str, key: str) -> str | None:
        """The value of ``key`` in the Secret, or None when there is none."""
        ...

    def where(self, namespace: str, secret_name: str, key: str) -> str:
        """Where :meth:`read` looked, for a message saying it found nothing."""
        ...


class EnvironmentSecrets:
    """Secrets from ``KARGO_DAGSTER_WEBHOOK_SECRET_<NAME>`` variables (any key of the Secret)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def read(self, namespace: str, secret_name: str, key: str) -> str | None:
        """The variable's value, or None when it is unset or empty."""
        return self._environ.get(secret_env_name(secret_name)) or None

    def where(self, namespace: str, secret_name: str, key: str) -> str:
        """The variable's name."""
        return f"set {secret_env_name(secret_name)}"


class KubernetesSecrets:
    """Secrets read from the Kubernetes API, in the namespace Kargo reads them from.

    Args:
        api_client: A configured ``kubernetes`` API client.
        request_timeout: Seconds allowed for each request.
    """

    def __init__(self, api_client: "kubernetes.client.ApiClient", request_timeout: float = 10.0):
        import kubernetes

        self._core = kubernetes.client.CoreV1Api(api_client)
        self._timeout = request_timeout

    def read(self, namespace: str, secret_name: str, key: str) -> str | None:
        """The decoded value of ``data[key]`` in Secret ``secret_name`` of ``namespace``.

        Raises:
            CredentialsError: The API refused or failed (the message names the Secret, never
                its data).
        """
        import kubernetes

        try:
            secret = cast(
                "kubernetes.client.V1Secret",
                self._core.read_namespaced_secret(
                    secret_name, namespace, _request_timeout=self._timeout
                ),
            )
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            raise CredentialsError(
                f"cannot read Secret {secret_name} in namespace {namespace} "
                f"(Kubernetes API answered {error.status} {error.reason})"
            ) from None
        except Exception as error:  # noqa: BLE001 - urllib3 raises many kinds for one cause
            raise CredentialsError(
                f"cannot reach the Kubernetes API to read Secret {secret_name} in namespace "
                f"{namespace} ({type(error).__name__})"
            ) from None
        encoded = (secret.data or {}).get(key)
        if encoded is None:
            return None
        try:
            return base64.b64decode(encoded).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None

    def where(self, namespace: str, secret_name: str, key: str) -> str:
        """The Secret and key looked for."""
        return f"add key {key!r} to Secret {secret_name} in namespace {namespace}"


class ChainedSecrets:
    """Each source in turn: the first that has the secret gives it."""

    def __init__(self, sources: Sequence[SecretSource]) -> None:
        self._sources = tuple(sources)

    def read(self, namespace: str, secret_name: str, key: str) -> str | None:
        """The first source's value, or None when none has one."""
        for source in self._sources:
            found = source.read(namespace, secret_name, key)
            if found is not None:
                return found
        return None

    def where(self, namespace: str, secret_name: str, key: str) -> str:
        """Where each source looked."""
        return " or ".join(s.where(namespace, secret_name, key) for s in self._sources)


@dataclass(frozen=True)
class Receiver:
    """One receiver ready to serve.

    Attributes:
        project: Its Project, or None for a ClusterConfig receiver, which serves every Project.
        config: Its entry in the ProjectConfig or ClusterConfig.
        provider: Its kind of sender.
        path: Its URL path.
        secret: Its secret (never shown: ``repr`` leaves it out).
    """

    project: str | None
    config: WebhookReceiverConfig
    provider: Provider
    path: str
    secret: str = field(repr=False)

    @property
    def name(self) -> str:
        """The receiver's name."""
        return self.config.name

    @property
    def label(self) -> str:
        """How logs and listings name it: ``demo/gh (github)``, ``ClusterConfig/gh (github)``."""
        owner = "ClusterConfig" if self.project is None else self.project
        return f"{owner}/{self.name} ({self.provider.kind})"


def build_receivers(
    projects: Iterable[ProjectManifests],
    secrets: SecretSource,
    base_path: str = "/",
    *,
    cluster_config: ClusterConfig | None = None,
    cluster_namespace: str = SYSTEM_RESOURCES_NAMESPACE,
) -> tuple[dict[str, Receiver], list[ManifestProblem]]:
    """Every receiver the Projects' ProjectConfigs and the ClusterConfig configure, by URL path,
    and a problem for each one whose secret cannot be found (that one is left out).

    A ClusterConfig receiver's path is derived with an empty Project name, and its Secret is
    read from ``cluster_namespace``, as Kargo does.
    """
    found: list[Receiver] = []
    problems: list[ManifestProblem] = []
    for project in projects:
        if project.config is not None:
            owner = _Owner(project.config, project.name, project.name)
            found.extend(_receivers(owner, secrets, base_path, problems))
    if cluster_config is not None:
        owner = _Owner(cluster_config, None, cluster_namespace)
        found.extend(_receivers(owner, secrets, base_path, problems))
    receivers: dict[str, Receiver] = {}
    for receiver in found:
        # Kargo looks a path up among the ProjectConfigs before the ClusterConfig.
        receivers.setdefault(receiver.path, receiver)
    return receivers, problems


@dataclass(frozen=True)
class _Owner:
    """The config declaring receivers, the Project they serve and where their Secrets are."""

    config: ProjectConfig | ClusterConfig
    project: str | None
    namespace: str


def _receivers(
    owner: _Owner, secrets: SecretSource, base_path: str, problems: list[ManifestProblem]
) -> Iterator[Receiver]:
    for index, receiver in enumerate(owner.config.spec.webhook_receivers):
        provider = PROVIDERS[receiver.provider]
        secret_name = receiver.details.secret_ref.name
        field_path = ("spec", "webhookReceivers", index, receiver.provider, "secretRef", "name")
        try:
            secret = secrets.read(owner.namespace, secret_name, provider.secret_key)
        except CredentialsError as error:
            problems.append(problem(owner.config, field_path, f"receiver {receiver.name}: {error}"))
            continue
        if secret is None:
            where = secrets.where(owner.namespace, secret_name, provider.secret_key)
            message = (
                f"receiver {receiver.name} is not served: no secret for Secret "
                f"{secret_name} ({where})"
            )
            problems.append(problem(owner.config, field_path, message))
            continue
        path = receiver_path(owner.project or "", provider.kind, receiver.name, secret, base_path)
        yield Receiver(owner.project, receiver, provider, path, secret)

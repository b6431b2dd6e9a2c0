"""Fixtures of the real-cluster suite: the cluster, a Project namespace, a GitOps branch.

Tests marked ``cluster`` are skipped when ``KUBECONFIG`` is unset, so the ordinary test run
passes on machines without a cluster. With ``KUBECONFIG`` set, a cluster that cannot be
reached or lacks Argo CD or Argo Rollouts fails every test with a message saying what is
missing: a skipped suite would look like a passing one.
"""

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import kubernetes
import pytest

from kargo_dagster.defs.resources import (
    ArgoCDSettings,
    KargoResource,
    RepositoryCredentials,
    RolloutsSettings,
)
from kargo_dagster.redaction import redact_text
from tests.cluster import (
    ARGO,
    ARGOCD_NAMESPACE_ENV,
    GIT_PUSH_URL_ENV,
    GIT_URL_ENV,
    unique_name,
)

_SKIP_REASON = (
    "needs a Kubernetes cluster with Argo CD and Argo Rollouts: set KUBECONFIG (see the "
    "README, 'Running the cluster suite with kind')"
)
_ARGOCD_CRDS = ("applications.argoproj.io",)
_ROLLOUTS_CRDS = (
    "analysisruns.argoproj.io",
    "analysistemplates.argoproj.io",
    "clusteranalysistemplates.argoproj.io",
)
_TIMEOUT = 15.0
_TEST_LABEL = {"app.kubernetes.io/managed-by": "kargo-dagster-cluster-tests"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``cluster`` tests when no cluster is configured, and only then."""
    if os.environ.get("KUBECONFIG"):
        return
    skip = pytest.mark.skip(reason=_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("cluster") is not None:
            item.add_marker(skip)


@dataclass
class Cluster:
    """The cluster ``KUBECONFIG`` names, checked to run Argo CD and Argo Rollouts."""

    api_client: kubernetes.client.ApiClient
    argocd_namespace: str

    @property
    def custom(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api_client)

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api_client)

    def read(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        """An ``argoproj.io`` object as the API server has it now."""
        if namespace is None:
            found = self.custom.get_cluster_custom_object(
                *ARGO, plural, name, _request_timeout=_TIMEOUT
            )
        else:
            found = self.custom.get_namespaced_custom_object(
                *ARGO, namespace, plural, name, _request_timeout=_TIMEOUT
            )
        return cast(dict[str, Any], found)

    def kargo(
        self, tmp_path: Path, *, credentials: list[RepositoryCredentials] | None = None
    ) -> KargoResource:
        """The ``kargo`` resource reaching this cluster through ``KUBECONFIG``, as a user's
        would, with waits long enough for real controllers (image pulls included)."""
        return KargoResource(
            work_dir=str(tmp_path / "work"),
            credentials=credentials or [],
            argocd=ArgoCDSettings(
                namespace=self.argocd_namespace,
                poll_interval_seconds=1,
                health_timeout_seconds=180,
            ),
            rollouts=RolloutsSettings(poll_interval_seconds=2, timeout_seconds=300),
        )


def _missing_crds(api_client: kubernetes.client.ApiClient, names: tuple[str, ...]) -> list[str]:
    extensions = kubernetes.client.ApiextensionsV1Api(api_client)
    missing: list[str] = []
    for name in names:
        try:
            extensions.read_custom_resource_definition(name, _request_timeout=_TIMEOUT)
        except kubernetes.client.ApiException as error:
            if error.status != 404:
                pytest.fail(
                    f"cannot read CustomResourceDefinition {name} from the cluster KUBECONFIG "
                    f"names ({error.status} {error.reason})",
                    pytrace=False,
                )
            missing.append(name)
    return missing


def _connect() -> tuple[kubernetes.client.ApiClient | None, str]:
    """A client for the cluster ``KUBECONFIG`` names, and why it does not answer if not."""
    try:
        api_client = kubernetes.config.new_client_from_config(persist_config=False)
    except (kubernetes.config.ConfigException, OSError) as error:
        return None, f"KUBECONFIG is set but cannot be used: {error}"
    try:
        kubernetes.client.VersionApi(api_client).get_code(_request_timeout=_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - any failure means the same thing here
        host = redact_text(str(api_client.configuration.host))
        # urllib3 wraps the cause (refused, timed out, TLS) in a MaxRetryError.
        cause = redact_text(str(getattr(error, "reason", None) or error))
        return api_client, f"cannot reach the cluster KUBECONFIG names ({host}): {cause}"
    return api_client, ""


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The cluster, after checking that it answers and has Argo CD and Argo Rollouts."""
    api_client, problem = _connect()
    if api_client is None or problem:
        # Failed outside the except blocks, so that the report is the message alone.
        pytest.fail(problem, pytrace=False)
    if missing := _missing_crds(api_client, _ARGOCD_CRDS):
        pytest.fail(
            f"the cluster KUBECONFIG names has no Argo CD (missing CRD: {', '.join(missing)}); "
            "install it (README: 'Running the cluster suite with kind')",
            pytrace=False,
        )
    if missing := _missing_crds(api_client, _ROLLOUTS_CRDS):
        pytest.fail(
            "the cluster KUBECONFIG names has no Argo Rollouts (missing CRDs: "
            f"{', '.join(missing)}); install it (README: 'Running the cluster suite with kind')",
            pytrace=False,
        )
    namespace = os.environ.get(ARGOCD_NAMESPACE_ENV) or "argocd"
    try:
        kubernetes.client.CoreV1Api(api_client).read_namespace(namespace, _request_timeout=_TIMEOUT)
    except kubernetes.client.ApiException as error:
        pytest.fail(
            f"Argo CD's namespace {namespace!r} cannot be read ({error.status} {error.reason}); "
            f"set {ARGOCD_NAMESPACE_ENV} to the namespace Argo CD runs in",
            pytrace=False,
        )
    with api_client:
        yield Cluster(api_client, namespace)


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance on SQLite: the cluster is under test here, not the storage."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance


@dataclass
class Cleanup:
    """What a test created, undone in reverse order when it ends, whatever its outcome."""

    actions: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)

    def add(self, what: str, action: Callable[[], Any]) -> None:
        self.actions.append((what, action))

    def run(self) -> None:
        """Undo everything, then fail if anything could not be undone (it is left behind)."""
        left: list[str] = []
        for what, action in reversed(self.actions):
            try:
                action()
            except kubernetes.client.ApiException as error:
                if error.status != 404:
                    left.append(f"{what} ({error.status} {error.reason})")
            except subprocess.CalledProcessError as error:
                left.append(f"{what} ({redact_text(str(error.stderr or '')).strip()})")
        if left:
            pytest.fail("could not clean up: " + "; ".join(left), pytrace=False)


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    undo = Cleanup()
    try:
        yield undo
    finally:
        undo.run()


@pytest.fixture
def project(cluster: Cluster, cleanup: Cleanup) -> str:
    """A Project namespace of the test's own, deleted with all it holds afterwards."""
    name = unique_name()
    cluster.core.create_namespace(
        {"metadata": {"name": name, "labels": dict(_TEST_LABEL)}}, _request_timeout=_TIMEOUT
    )
    cleanup.add(
        f"namespace {name}",
        lambda: cluster.core.delete_namespace(name, _request_timeout=_TIMEOUT),
    )
    return name


def create_object(
    cluster: Cluster, cleanup: Cleanup, manifest: dict[str, Any], plural: str
) -> dict[str, Any]:
    """Create an ``argoproj.io`` object (namespaced or not) and have it deleted afterwards."""
    custom = cluster.custom
    name = manifest["metadata"]["name"]
    namespace = manifest["metadata"].get("namespace")
    labels = {**manifest["metadata"].get("labels", {}), **_TEST_LABEL}
    body = {**manifest, "metadata": {**manifest["metadata"], "labels": labels}}
    if namespace is None:
        created = custom.create_cluster_custom_object(
            *ARGO, plural, body, _request_timeout=_TIMEOUT
        )
        cleanup.add(
            f"{plural}/{name}",
            lambda: custom.delete_cluster_custom_object(
                *ARGO, plural, name, _request_timeout=_TIMEOUT
            ),
        )
    else:
        created = custom.create_namespaced_custom_object(
            *ARGO, namespace, plural, body, _request_timeout=_TIMEOUT
        )
        cleanup.add(
            f"{plural}/{name} in {namespace}",
            lambda: custom.delete_namespaced_custom_object(
                *ARGO, namespace, plural, name, _request_timeout=_TIMEOUT
            ),
        )
    return cast(dict[str, Any], created)


@pytest.fixture
def create(cluster: Cluster, cleanup: Cleanup) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    """``create(manifest, plural)``: an ``argoproj.io`` object deleted when the test ends."""
    return lambda manifest, plural: create_object(cluster, cleanup, manifest, plural)


# The GitOps repository ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GitOps:
    """A branch of the test's own in the repository Argo CD reads.

    Attributes:
        read_url: The repository as Argo CD reads it (the Application's ``repoURL``).
        push_url: The repository as this machine reaches it, without credentials (the
            promotion's ``git-clone`` URL).
        branch: The branch the test created and the Application deploys.
        credentials: The push URL's credentials, for the ``kargo`` resource.
    """

    read_url: str
    push_url: str
    branch: str
    credentials: list[RepositoryCredentials]


_GIT_PASSWORD = "KARGO_DAGSTER_CLUSTER_TEST_GIT_PASSWORD"


def _split_credentials(url: str) -> tuple[str, list[RepositoryCredentials]]:
    # Manifests must not carry credentials; the resource hands them to git instead.
    parts = urlsplit(url)
    if parts.username is None:
        return url, []
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    # As an environment variable: the resource refuses literal secrets.
    os.environ[_GIT_PASSWORD] = parts.password or ""
    rule = RepositoryCredentials(
        type="git", repo_url=bare, username=parts.username, password=dg.EnvVar(_GIT_PASSWORD)
    )
    return bare, [rule]


def _git(*args: str, cwd: Path) -> None:
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    subprocess.run(
        ["git", *args], cwd=cwd, env=environment, check=True, capture_output=True, text=True
    )


# What the Applications deploy: one ConfigMap, whose version the promotion rewrites.
CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-version
data:
  version: none
"""


@pytest.fixture
def gitops(tmp_path: Path, cleanup: Cleanup, project: str) -> GitOps:
    """A new branch holding ``app/configmap.yaml``, pushed to the test repository and deleted
    afterwards."""
    read_url = os.environ.get(GIT_URL_ENV, "")
    push_with_credentials = os.environ.get(GIT_PUSH_URL_ENV, "")
    if not read_url or not push_with_credentials:
        pytest.fail(
            f"this scenario needs a git repository: set {GIT_URL_ENV} (the URL Argo CD reads "
            f"it from) and {GIT_PUSH_URL_ENV} (the URL this machine pushes to, with "
            "credentials if needed); see the README, 'Running the cluster suite with kind'",
            pytrace=False,
        )
    push_url, credentials = _split_credentials(push_with_credentials)
    branch = project
    work = tmp_path / "gitops-seed"
    (work / "app").mkdir(parents=True)
    (work / "app" / "configmap.yaml").write_text(CONFIG_MAP)
    identity = ("-c", "user.name=kargo-dagster tests", "-c", "user.email=tests@example.com")
    try:
        _git("init", "--quiet", "--initial-branch", branch, cwd=work)
        _git("add", "app", cwd=work)
        _git(*identity, "commit", "--quiet", "--message", "cluster test seed", cwd=work)
        _git("push", "--quiet", push_with_credentials, f"HEAD:refs/heads/{branch}", cwd=work)
    except subprocess.CalledProcessError as error:
        pytest.fail(
            f"cannot seed branch {branch} in {push_url}: {redact_text(error.stderr).strip()}",
            pytrace=False,
        )
    cleanup.add(
        f"branch {branch} of {push_url}",
        lambda: _git("push", "--quiet", push_with_credentials, "--delete", branch, cwd=work),
    )
    return GitOps(read_url, push_url, branch, credentials)

"""Real servers and fakes for tests, shipped so that users can test their pipelines too.

What a pipeline talks to, on loopback and without a cluster or network access:

- Kubernetes: :class:`FakeKubeAPI`, an API server that validates custom resources against
  the real CRDs, seeded with :func:`secret` and :func:`config_map`, and reached by the real
  ``kubernetes`` client (:func:`write_kubeconfig`); :class:`ArgoCDSimulator` (with
  :func:`application` manifests and :class:`ArgoCDRestAPI`), :class:`AnalysisRunSimulator`
  and :class:`PodSimulator` act on its objects as the controllers would.
- Artifacts: :class:`LocalRegistry` (a real OCI registry) filled by :func:`push_image` and
  :func:`push_chart`, :class:`TokenAuthRegistry` in front of it, :class:`ScriptedRegistry`
  for odd answers, and :class:`HelmRepoServer`.
- Git: :class:`GitRemote` repositories served by :class:`GitHTTPServer` or
  :class:`SshGitServer`; :class:`GitProviderAPI` for the providers' pull request APIs;
  :class:`FakeGitHubApp` and :class:`FakeGoogleTokenServer` for credentials they exchange.
- :mod:`~kargo_dagster.testing.webhook_senders`: the deliveries the providers send.
- :func:`wait_until`: waiting for a condition instead of sleeping.

The names are imported on first use, so importing this package loads none of the servers.
The product never imports this package (import-linter checks it); only the demo and tests do.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kargo_dagster.testing import webhook_senders
    from kargo_dagster.testing.analysis_sim import AnalysisRunSimulator
    from kargo_dagster.testing.argocd_application import application
    from kargo_dagster.testing.argocd_rest_api import ArgoCDRestAPI
    from kargo_dagster.testing.argocd_sim import ArgoCDSimulator
    from kargo_dagster.testing.git_provider_api import GitProviderAPI
    from kargo_dagster.testing.git_remote import GitHTTPServer, GitIdentity, GitRemote
    from kargo_dagster.testing.github_app import FakeGitHubApp
    from kargo_dagster.testing.google_oauth import FakeGoogleTokenServer
    from kargo_dagster.testing.helm_repo import HelmRepoServer
    from kargo_dagster.testing.kube_api import FakeKubeAPI
    from kargo_dagster.testing.kube_client_config import write_kubeconfig
    from kargo_dagster.testing.kube_manifests import config_map, secret
    from kargo_dagster.testing.oci_push import push_chart, push_image
    from kargo_dagster.testing.pod_sim import PodRun, PodSimulator
    from kargo_dagster.testing.polling import WaitTimeout, wait_until
    from kargo_dagster.testing.registry import LocalRegistry
    from kargo_dagster.testing.scripted_registry import ScriptedAnswer, ScriptedRegistry
    from kargo_dagster.testing.server_process import free_port
    from kargo_dagster.testing.ssh_git_server import SshGitServer, generate_key_pair
    from kargo_dagster.testing.token_auth import TokenAuthRegistry

# Each public name and the submodule it lives in (a submodule's own name: the submodule).
_LAZY = {
    "AnalysisRunSimulator": "analysis_sim",
    "ArgoCDRestAPI": "argocd_rest_api",
    "ArgoCDSimulator": "argocd_sim",
    "FakeGitHubApp": "github_app",
    "FakeGoogleTokenServer": "google_oauth",
    "FakeKubeAPI": "kube_api",
    "GitHTTPServer": "git_remote",
    "GitIdentity": "git_remote",
    "GitProviderAPI": "git_provider_api",
    "GitRemote": "git_remote",
    "HelmRepoServer": "helm_repo",
    "LocalRegistry": "registry",
    "PodRun": "pod_sim",
    "PodSimulator": "pod_sim",
    "ScriptedAnswer": "scripted_registry",
    "ScriptedRegistry": "scripted_registry",
    "SshGitServer": "ssh_git_server",
    "TokenAuthRegistry": "token_auth",
    "WaitTimeout": "polling",
    "application": "argocd_application",
    "config_map": "kube_manifests",
    "free_port": "server_process",
    "generate_key_pair": "ssh_git_server",
    "push_chart": "oci_push",
    "push_image": "oci_push",
    "secret": "kube_manifests",
    "wait_until": "polling",
    "webhook_senders": "webhook_senders",
    "write_kubeconfig": "kube_client_config",
}

__all__ = [
    "AnalysisRunSimulator",
    "ArgoCDRestAPI",
    "ArgoCDSimulator",
    "FakeGitHubApp",
    "FakeGoogleTokenServer",
    "FakeKubeAPI",
    "GitHTTPServer",
    "GitIdentity",
    "GitProviderAPI",
    "GitRemote",
    "HelmRepoServer",
    "LocalRegistry",
    "PodRun",
    "PodSimulator",
    "ScriptedAnswer",
    "ScriptedRegistry",
    "SshGitServer",
    "TokenAuthRegistry",
    "WaitTimeout",
    "application",
    "config_map",
    "free_port",
    "generate_key_pair",
    "push_chart",
    "push_image",
    "secret",
    "wait_until",
    "webhook_senders",
    "write_kubeconfig",
]


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def __getattr__(name: str) -> Any:
    submodule = _LAZY.get(name)
    if submodule is None:
        # Also how `from kargo_dagster.testing import kube_store` falls back to importing the
        # submodule: only an AttributeError lets it.
        raise AttributeError(f"module 'kargo_dagster.testing' has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{submodule}")
    return module if submodule == name else getattr(module, name)

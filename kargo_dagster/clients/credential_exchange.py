"""Credentials that are traded for short-lived tokens before use.

A credential rule may hold a GitHub App (for git over HTTPS and GitHub's API), an AWS access
key (for ECR registries) or a Google Cloud service account key (for Artifact Registry and
Container Registry) rather than a password. :class:`ExchangingCredentialStore` wraps any
store and answers a lookup with the username and token the exchange gives
(:mod:`~kargo_dagster.clients.github_app`, :mod:`~kargo_dagster.clients.ecr_auth`,
:mod:`~kargo_dagster.clients.gar_auth`), so the code that sends credentials only ever sees a
username and password. With ``cloud_identity``, an ECR or Google registry no rule gives
credentials for is asked with the machine's own cloud identity (IRSA, EKS Pod Identity, an
instance profile; GKE Workload Identity, the metadata server), as Kargo does with workload
identity.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from kargo_dagster.clients.ecr_auth import EcrTokens, is_ecr_url
from kargo_dagster.clients.gar_auth import GoogleTokens, is_google_registry_url
from kargo_dagster.clients.github_app import GitHubAppTokens
from kargo_dagster.credentials import Credentials, CredentialStore, CredentialType

__all__ = ["CLOUD_IDENTITY_ENV", "ExchangingCredentialStore", "cloud_identity_from_env"]

CLOUD_IDENTITY_ENV = "KARGO_DAGSTER_CLOUD_IDENTITY"


def cloud_identity_from_env(environ: Mapping[str, str]) -> bool:
    """Whether ``$KARGO_DAGSTER_CLOUD_IDENTITY`` turns the machine's cloud identity on."""
    return environ.get(CLOUD_IDENTITY_ENV, "").strip().lower() in ("1", "true", "yes")


# One cache of tokens per process, shared by every store that does not bring its own.
_GITHUB_APP_TOKENS = GitHubAppTokens()
_ECR_TOKENS = EcrTokens()
_GOOGLE_TOKENS = GoogleTokens()


@dataclass(frozen=True)
class ExchangingCredentialStore:
    """Answers with tokens for the GitHub Apps and AWS keys another store finds.

    Attributes:
        store: Where the credentials come from.
        github_app: Gets and keeps GitHub App installation tokens.
        ecr: Gets and keeps ECR authorization tokens.
        google: Gets and keeps Google access tokens.
        cloud_identity: Ask ECR and Google registries no rule covers with the machine's own
            cloud identity.
    """

    store: CredentialStore
    github_app: GitHubAppTokens = field(default=_GITHUB_APP_TOKENS)
    ecr: EcrTokens = field(default=_ECR_TOKENS)
    google: GoogleTokens = field(default=_GOOGLE_TOKENS)
    cloud_identity: bool = False

    def lookup(self, kind: CredentialType, repo_url: str) -> Credentials | None:
        """The other store's credentials, with an App or a cloud key exchanged for a token.

        As in Kargo, a GitHub App applies to HTTP(S) git URLs only, an AWS key to ECR
        repositories only and a service account key to Google's registries only; elsewhere
        they give no credentials.

        Raises:
            CredentialsError: The exchange failed; the message says why.
        """
        found = self.store.lookup(kind, repo_url)
        if found is None:
            return self._ambient(kind, repo_url)
        if found.github_app is not None:
            if not repo_url.lower().startswith(("http://", "https://")):
                return None
            return self.github_app.credentials_for(found.github_app, repo_url)
        if found.aws_access_key is not None:
            if not is_ecr_url(repo_url):
                return None
            return self.ecr.credentials_for(found.aws_access_key)
        if found.gcp_service_account_key is not None:
            if not is_google_registry_url(repo_url):
                return None
            return self.google.credentials_for(found.gcp_service_account_key)
        return found

    def _ambient(self, kind: CredentialType, repo_url: str) -> Credentials | None:
        if not self.cloud_identity or kind == "git":
            return None
        if is_ecr_url(repo_url):
            return self.ecr.ambient_credentials(repo_url)
        if is_google_registry_url(repo_url):
            return self.google.ambient_credentials()
        return None

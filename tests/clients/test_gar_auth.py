"""Google registry credentials: a service account key traded at a local token endpoint."""

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from kargo_dagster.clients.credential_exchange import ExchangingCredentialStore
from kargo_dagster.clients.gar_auth import (
    SCOPE,
    TOKEN_USERNAME,
    GoogleTokens,
    is_google_registry_url,
)
from kargo_dagster.credentials import Credentials, credentials_from_env
from kargo_dagster.errors import CredentialsError
from kargo_dagster.redaction import mask_secrets
from kargo_dagster.testing.google_oauth import FakeGoogleTokenServer
from tests.clients.missing_module import error_without

REPOSITORY = "europe-west1-docker.pkg.dev/acme/images/app"


@dataclass
class Clock:
    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def google() -> Iterator[FakeGoogleTokenServer]:
    with FakeGoogleTokenServer() as server:
        yield server


def _store(key_file: dict[str, str], clock: Clock) -> ExchangingCredentialStore:
    encoded = base64.b64encode(json.dumps(key_file).encode()).decode()
    rules = credentials_from_env(
        {
            "KARGO_DAGSTER_CREDS_GAR_TYPE": "image",
            "KARGO_DAGSTER_CREDS_GAR_REPO_URL": r"^europe-west1-docker\.pkg\.dev/acme/",
            "KARGO_DAGSTER_CREDS_GAR_REPO_URL_IS_REGEX": "true",
            "KARGO_DAGSTER_CREDS_GAR_GCP_SERVICE_ACCOUNT_KEY": encoded,
        }
    )
    return ExchangingCredentialStore(rules, google=GoogleTokens(clock=clock))


def test_a_service_account_key_gives_an_access_token_kept_until_near_expiry(
    google: FakeGoogleTokenServer,
) -> None:
    clock = Clock()
    store = _store(google.service_account_key("puller"), clock)

    found = store.lookup("image", REPOSITORY)

    assert len(google.issued) == 1
    assert found == Credentials(TOKEN_USERNAME, SecretStr(google.issued[0].token))
    assert google.issued[0].scopes == (SCOPE,)
    clock.offset = 3600 - 310
    assert store.lookup("image", REPOSITORY) == found
    clock.offset = 3600 - 290
    assert store.lookup("image", REPOSITORY) == Credentials(
        TOKEN_USERNAME, SecretStr(google.issued[1].token)
    )


def test_a_key_google_does_not_know_is_refused_without_showing_it(
    google: FakeGoogleTokenServer,
) -> None:
    key_file = google.service_account_key("stranger", known=False)
    with pytest.raises(CredentialsError) as raised:
        _store(key_file, Clock()).lookup("image", REPOSITORY)
    message = str(raised.value)
    assert message.startswith(
        f"Google service account {key_file['client_email']}: no access token (invalid_grant"
    )
    for line in key_file["private_key"].splitlines()[1:-1]:
        assert line not in message
    assert google.refused == 1


def test_every_form_of_the_key_is_masked(google: FakeGoogleTokenServer) -> None:
    key_file = google.service_account_key("puller")
    store = credentials_from_env(
        {
            "KARGO_DAGSTER_CREDS_GAR_TYPE": "helm",
            "KARGO_DAGSTER_CREDS_GAR_REPO_URL": "oci://europe-docker.pkg.dev/acme/charts",
            "KARGO_DAGSTER_CREDS_GAR_GCP_SERVICE_ACCOUNT_KEY": json.dumps(key_file),
        }
    )
    found = store.lookup("helm", "oci://europe-docker.pkg.dev/acme/charts")
    assert found is not None and found.gcp_service_account_key is not None
    echoed = (
        f"{json.dumps(key_file)} {key_file['private_key']} {json.dumps(key_file['private_key'])}"
    )
    masked = mask_secrets(echoed, found.secrets())
    for line in key_file["private_key"].splitlines()[1:-1]:
        assert line not in masked
    assert "PRIVATE KEY" not in repr(found) and "private_key" not in repr(found)


def test_without_google_auth_a_google_credential_says_what_to_install() -> None:
    message = error_without(
        "google.oauth2",
        "from pydantic import SecretStr\n"
        "from kargo_dagster.clients.gar_auth import GoogleTokens\n"
        "from kargo_dagster.credentials import GcpServiceAccountKey",
        "GoogleTokens().credentials_for(GcpServiceAccountKey('puller@acme.iam', SecretStr('{}')))",
    )
    assert message == (
        "Google service account puller@acme.iam: Google registry credentials need "
        "google-auth: install kargo-dagster[gcp]"
    )


def test_a_key_file_that_is_not_one_is_named() -> None:
    with pytest.raises(CredentialsError) as raised:
        credentials_from_env(
            {
                "KARGO_DAGSTER_CREDS_GAR_TYPE": "image",
                "KARGO_DAGSTER_CREDS_GAR_REPO_URL": REPOSITORY,
                "KARGO_DAGSTER_CREDS_GAR_GCP_SERVICE_ACCOUNT_KEY": '{"type": "x"}',
            }
        )
    assert str(raised.value) == (
        "credential rule GAR: KARGO_DAGSTER_CREDS_GAR_GCP_SERVICE_ACCOUNT_KEY is not a service "
        "account key file (JSON with client_email, private_key and token_uri)"
    )


@pytest.mark.parametrize(
    ("url", "google_registry"),
    [
        (REPOSITORY, True),
        ("oci://us-docker.pkg.dev/acme/charts/app", True),
        ("gcr.io/acme/app", True),
        ("eu.gcr.io/acme/app", True),
        ("ghcr.io/acme/app", False),
        ("docker.pkg.dev.example.com/acme/app", False),
    ],
)
def test_google_registries_are_recognised(url: str, google_registry: bool) -> None:
    assert is_google_registry_url(url) is google_registry

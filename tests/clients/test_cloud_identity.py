"""The machine's own cloud identity for ECR and Google registries no credential rule covers.

AWS cannot be reached here: the ECR client is real with botocore's Stubber answering. The
Google identity is the one google-auth finds by default, here a key file named by
``GOOGLE_APPLICATION_CREDENTIALS`` whose token endpoint is a local server.
"""

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import SecretStr

from kargo_dagster.clients.credential_exchange import ExchangingCredentialStore
from kargo_dagster.clients.ecr_auth import EcrTokens
from kargo_dagster.clients.gar_auth import TOKEN_USERNAME
from kargo_dagster.credentials import Credentials, StaticCredentialStore
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.errors import CredentialsError
from kargo_dagster.testing.google_oauth import FakeGoogleTokenServer

ECR_REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app"
GOOGLE_REPOSITORY = "europe-west1-docker.pkg.dev/acme/images/app"
NOBODY = StaticCredentialStore()


class AmbientEcr:
    """ECR clients built as with the machine's identity, answering from a stub."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.regions: list[str] = []

    def client(self, region: str) -> Any:
        self.regions.append(region)
        # Credentials only so that botocore can sign; the stub answers before any request.
        client = boto3.client(
            "ecr", region_name=region, aws_access_key_id="x", aws_secret_access_key="y"
        )
        stubber = Stubber(client)
        if isinstance(self.answer, str):
            stubber.add_client_error("get_authorization_token", service_error_code=self.answer)
        else:
            stubber.add_response("get_authorization_token", self.answer, {})
        stubber.activate()
        return client


def _token(password: str) -> dict[str, Any]:
    encoded = base64.b64encode(f"AWS:{password}".encode()).decode()
    expires = datetime.fromtimestamp(datetime.now(UTC).timestamp() + 3600, UTC)
    return {"authorizationData": [{"authorizationToken": encoded, "expiresAt": expires}]}


def _store(ecr: AmbientEcr, *, cloud_identity: bool) -> ExchangingCredentialStore:
    tokens = EcrTokens(ambient_client_factory=ecr.client)
    return ExchangingCredentialStore(NOBODY, ecr=tokens, cloud_identity=cloud_identity)


def test_ecr_is_asked_with_the_machines_identity_in_the_registrys_region() -> None:
    ecr = AmbientEcr(_token("from-the-instance-role"))
    store = _store(ecr, cloud_identity=True)
    found = store.lookup("image", ECR_REPOSITORY)
    assert found == Credentials("AWS", SecretStr("from-the-instance-role"))
    assert ecr.regions == ["eu-west-1"]
    assert store.lookup("helm", "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/c") == found
    assert ecr.regions == ["eu-west-1"]  # kept until shortly before it expires
    # Only registries: git, other hosts, and everything when it is off get nothing.
    assert store.lookup("git", "https://github.com/acme/app.git") is None
    assert store.lookup("image", "ghcr.io/acme/app") is None
    assert _store(ecr, cloud_identity=False).lookup("image", ECR_REPOSITORY) is None


def test_a_refused_identity_says_whose_it_was() -> None:
    store = _store(AmbientEcr("AccessDeniedException"), cloud_identity=True)
    with pytest.raises(CredentialsError) as raised:
        store.lookup("image", ECR_REPOSITORY)
    assert str(raised.value) == (
        "ECR in eu-west-1 with the machine's AWS identity: no authorization token "
        "(AccessDeniedException)"
    )


def test_google_registries_are_asked_with_the_default_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeGoogleTokenServer() as google:
        key_file = tmp_path / "workload-identity.json"
        key_file.write_text(json.dumps(google.service_account_key("node")))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
        monkeypatch.setenv("KARGO_DAGSTER_CLOUD_IDENTITY", "true")
        # The kargo resource follows $KARGO_DAGSTER_CLOUD_IDENTITY unless told otherwise.
        found = KargoResource().credential_store("demo").lookup("image", GOOGLE_REPOSITORY)
        assert found == Credentials(TOKEN_USERNAME, SecretStr(google.issued[0].token))
        off = KargoResource(cloud_identity=False).credential_store("demo")
        assert off.lookup("image", GOOGLE_REPOSITORY) is None

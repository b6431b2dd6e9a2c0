"""ECR registry credentials from an AWS access key, with boto3's ECR client stubbed.

AWS cannot be reached from the tests, so the seam is the boto3 client itself: a real
client whose answers come from botocore's Stubber.
"""

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import SecretStr

from kargo_dagster.clients.credential_exchange import ExchangingCredentialStore
from kargo_dagster.clients.ecr_auth import EcrTokens, is_ecr_url
from kargo_dagster.credentials import (
    AwsAccessKey,
    CredentialRule,
    Credentials,
    StaticCredentialStore,
)
from kargo_dagster.errors import CredentialsError
from kargo_dagster.redaction import mask_secrets
from tests.clients.missing_module import error_without

REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app"
KEY = AwsAccessKey("eu-west-1", "AKIAEXAMPLEKEY", SecretStr("aws-s3cret-access-key"))
T0 = datetime(2027, 1, 15, 12, 0, tzinfo=UTC).timestamp()


@dataclass
class StubbedEcr:
    """Makes real ECR clients that answer from a queue of stubbed responses."""

    answers: list[tuple[str, Any]] = field(default_factory=list)
    clients: list[Any] = field(default_factory=list)
    now: float = T0

    def token(self, password: str, expires_in: float) -> None:
        encoded = base64.b64encode(f"AWS:{password}".encode()).decode()
        expires = datetime.fromtimestamp(self.now + expires_in, UTC)
        data = {"authorizationToken": encoded, "expiresAt": expires}
        self.answers.append(("ok", {"authorizationData": [data]}))

    def refusal(self, code: str) -> None:
        self.answers.append(("error", code))

    def client(self, key: AwsAccessKey) -> Any:
        client = boto3.client(
            "ecr",
            region_name=key.region,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key.get_secret_value(),
        )
        stubber = Stubber(client)
        kind, answer = self.answers.pop(0)
        if kind == "ok":
            stubber.add_response("get_authorization_token", answer, {})
        else:
            stubber.add_client_error("get_authorization_token", service_error_code=answer)
        stubber.activate()
        self.clients.append(client)
        return client

    def clock(self) -> float:
        return self.now


def _store(ecr: StubbedEcr) -> ExchangingCredentialStore:
    rules = (
        CredentialRule(
            "image",
            r"^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com/",
            Credentials("", aws_access_key=KEY),
            is_regex=True,
        ),
    )
    tokens = EcrTokens(client_factory=ecr.client, clock=ecr.clock)
    return ExchangingCredentialStore(StaticCredentialStore(rules), ecr=tokens)


def test_the_token_is_fetched_once_and_kept_until_shortly_before_it_expires() -> None:
    ecr = StubbedEcr()
    ecr.token("first-registry-password", expires_in=12 * 3600)
    ecr.token("second-registry-password", expires_in=12 * 3600)
    store = _store(ecr)

    first = store.lookup("image", REPOSITORY)
    assert first == Credentials("AWS", SecretStr("first-registry-password"))
    ecr.now += 12 * 3600 - 301
    assert store.lookup("image", REPOSITORY + "-other") == first
    assert len(ecr.clients) == 1

    ecr.now += 2
    assert store.lookup("image", REPOSITORY) == Credentials(
        "AWS", SecretStr("second-registry-password")
    )
    assert len(ecr.clients) == 2


def test_the_fetched_password_is_masked_wherever_credentials_are_masked() -> None:
    ecr = StubbedEcr()
    ecr.token("registry-password-from-ecr", expires_in=3600)
    found = _store(ecr).lookup("image", REPOSITORY)
    assert found is not None
    text = f"denied: registry-password-from-ecr {found!r}"
    assert "registry-password-from-ecr" not in mask_secrets(text, found.secrets())
    assert "registry-password-from-ecr" not in repr(found)


def test_a_refused_key_is_named_by_its_id_never_its_secret() -> None:
    ecr = StubbedEcr()
    ecr.refusal("UnrecognizedClientException")
    with pytest.raises(CredentialsError) as raised:
        _store(ecr).lookup("image", REPOSITORY)
    assert str(raised.value) == (
        "ECR in eu-west-1 with AWS access key AKIAEXAMPLEKEY: "
        "no authorization token (UnrecognizedClientException)"
    )


def test_an_aws_key_gives_nothing_for_other_registries() -> None:
    ecr = StubbedEcr()
    rules = (CredentialRule("image", "ghcr.io/acme/app", Credentials("", aws_access_key=KEY)),)
    store = ExchangingCredentialStore(
        StaticCredentialStore(rules), ecr=EcrTokens(client_factory=ecr.client)
    )
    assert store.lookup("image", "ghcr.io/acme/app") is None
    assert ecr.clients == []


@pytest.mark.parametrize(
    ("url", "ecr"),
    [
        (REPOSITORY, True),
        ("oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/charts/app", True),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app", True),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", True),
        ("public.ecr.aws/acme/app", False),
        ("12345.dkr.ecr.eu-west-1.amazonaws.com/app", False),
        ("ghcr.io/acme/app", False),
    ],
)
def test_ecr_repositories_are_recognised(url: str, ecr: bool) -> None:
    assert is_ecr_url(url) is ecr


def test_without_boto3_an_ecr_credential_says_what_to_install() -> None:
    message = error_without(
        "boto3",
        "from pydantic import SecretStr\n"
        "from kargo_dagster.clients.ecr_auth import EcrTokens\n"
        "from kargo_dagster.credentials import AwsAccessKey",
        "EcrTokens().credentials_for(AwsAccessKey('r', 'AKIAEXAMPLEKEY', SecretStr('s')))",
    )
    assert message == (
        "ECR credentials (AWS access key AKIAEXAMPLEKEY) need boto3: install kargo-dagster[ecr]"
    )

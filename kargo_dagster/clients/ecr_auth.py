"""Amazon ECR authorization tokens for an AWS access key, through boto3.

An image or helm credential for an ECR registry (``<account>.dkr.ecr.<region>.amazonaws.com``)
may hold an AWS access key instead of a password, as Kargo's ``awsRegion``,
``awsAccessKeyID`` and ``awsSecretAccessKey``. ECR's ``GetAuthorizationToken`` trades it for a
registry username and password valid for twelve hours; each is kept (per key, in memory for
the process) until five minutes before it expires.

Without a key, :meth:`EcrTokens.ambient_credentials` asks with the machine's own AWS
identity instead (boto3's default chain: environment variables, IRSA or EKS Pod Identity,
the instance profile), as Kargo does with workload identity.

boto3 is an optional dependency: install ``kargo-dagster[ecr]``. Without it, an ECR
credential is a :class:`~kargo_dagster.errors.CredentialsError` saying so.
"""

import base64
import binascii
import re
import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from kargo_dagster.clients.token_cache import TokenCache
from kargo_dagster.credentials import AwsAccessKey, Credentials
from kargo_dagster.errors import CredentialsError

__all__ = ["EcrTokens", "ecr_region", "is_ecr_url"]

# Kargo's test for an ECR repository, with the China partition and FIPS endpoints too.
_ECR_REPOSITORY = re.compile(
    r"^(?:oci://)?[0-9]{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?(?:/|$)"
)

# Makes the ECR client for a key; boto3's by default. Tests pass one wired to a stub.
ClientFactory = Callable[[AwsAccessKey], Any]
# Makes the ECR client of a region with the machine's own identity.
AmbientClientFactory = Callable[[str], Any]


def is_ecr_url(repo_url: str) -> bool:
    """Whether ``repo_url`` is a repository in an ECR registry."""
    return _ECR_REPOSITORY.match(repo_url.strip().lower()) is not None


def ecr_region(repo_url: str) -> str:
    """The region of the ECR registry ``repo_url`` is in (``eu-west-1``)."""
    host = repo_url.strip().lower().removeprefix("oci://").split("/", 1)[0]
    return host.split(".")[3]


def _boto3(needing_it: str) -> Any:
    """The boto3 module, an optional dependency.

    Raises:
        CredentialsError: It is not installed (``needing_it`` says what needs it).
    """
    try:
        import boto3
    except ImportError:
        raise CredentialsError(f"{needing_it} boto3: install kargo-dagster[ecr]") from None
    return boto3


def boto3_ambient_client(region: str) -> Any:
    """An ECR client in ``region`` with boto3's default credentials.

    Raises:
        CredentialsError: boto3 is not installed.
    """
    boto3 = _boto3(f"ECR in {region} with the machine's AWS identity needs")
    return boto3.client("ecr", region_name=region)


def boto3_client(key: AwsAccessKey) -> Any:
    """An ECR client for ``key`` in its region.

    Raises:
        CredentialsError: boto3 is not installed.
    """
    boto3 = _boto3(f"ECR credentials (AWS access key {key.access_key_id}) need")
    return boto3.client(
        "ecr",
        region_name=key.region,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key.get_secret_value(),
    )


class EcrTokens:
    """ECR registry credentials, fetched when needed and kept until shortly before expiry.

    Args:
        client_factory: Makes the ECR client for a key (:func:`boto3_client` by default).
        ambient_client_factory: Makes the ECR client of a region with the machine's own
            identity (:func:`boto3_ambient_client` by default).
        clock: Seconds since the epoch (``time.time``); replaceable in tests.
    """

    def __init__(
        self,
        *,
        client_factory: ClientFactory = boto3_client,
        ambient_client_factory: AmbientClientFactory = boto3_ambient_client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_factory = client_factory
        self._ambient_client_factory = ambient_client_factory
        self._tokens: TokenCache[Credentials] = TokenCache(clock=clock)

    def ambient_credentials(self, repo_url: str) -> Credentials:
        """The registry username and password ECR gives the machine's own AWS identity for
        the registry of ``repo_url``.

        Raises:
            CredentialsError: boto3 is missing, or AWS refused the identity or could not be
                reached.
        """
        region = ecr_region(repo_url)
        where = f"ECR in {region} with the machine's AWS identity"
        return self._tokens.get(
            ["ambient", region],
            lambda: self._exchange(self._ambient_client_factory(region), where),
        )

    def credentials_for(self, key: AwsAccessKey) -> Credentials:
        """The registry username and password ECR gives ``key``.

        Raises:
            CredentialsError: boto3 is missing, or AWS refused the key or could not be
                reached. The message names the access key ID, never the secret.
        """
        made_from = [key.region, key.access_key_id, key.secret_access_key.get_secret_value()]
        return self._tokens.get(made_from, lambda: self._fetch(key))

    def _fetch(self, key: AwsAccessKey) -> tuple[Credentials, float]:
        where = f"ECR in {key.region} with AWS access key {key.access_key_id}"
        return self._exchange(self._client_factory(key), where)

    def _exchange(self, client: Any, where: str) -> tuple[Credentials, float]:
        try:
            answer = client.get_authorization_token()
        except Exception as error:  # noqa: BLE001 - botocore raises many kinds for one cause
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            raise CredentialsError(
                f"{where}: no authorization token ({code or type(error).__name__})"
            ) from None
        try:
            data = answer["authorizationData"][0]
            decoded = base64.b64decode(data["authorizationToken"]).decode()
            expires_at = data["expiresAt"].timestamp()
        except (KeyError, IndexError, TypeError, AttributeError, binascii.Error, ValueError):
            raise CredentialsError(f"{where}: the authorization token is unreadable") from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise CredentialsError(f"{where}: the authorization token is unreadable")
        return Credentials(username, SecretStr(password)), expires_at

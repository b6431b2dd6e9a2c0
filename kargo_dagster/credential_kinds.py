"""What a credential may hold besides a password, as plain data.

A GitHub App, an AWS access key and a Google Cloud service account key are each exchanged
for short-lived tokens (:mod:`kargo_dagster.clients.credential_exchange`); these records
only hold what the exchange needs. Their ``repr`` never shows a secret.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass

from pydantic import SecretStr

from kargo_dagster.errors import CredentialsError

__all__ = [
    "AwsAccessKey",
    "GcpServiceAccountKey",
    "GitHubApp",
    "decoded_key",
    "gcp_service_account_key",
    "key_secrets",
]

# Lines of a PEM or OpenSSH key shorter than this are its armour, not key material.
_KEY_LINE_MIN = 16


@dataclass(frozen=True)
class GitHubApp:
    """A GitHub App installation, exchanged for installation access tokens.

    Attributes:
        app_id: The App's client ID (preferred by GitHub) or its numeric App ID.
        installation_id: The installation on the account that owns the repositories.
        private_key: The App's PEM private key.
    """

    app_id: str
    installation_id: int
    private_key: SecretStr

    def __repr__(self) -> str:
        return f"GitHubApp(app_id={self.app_id!r}, installation_id={self.installation_id})"


@dataclass(frozen=True)
class AwsAccessKey:
    """An AWS access key, exchanged for ECR authorization tokens in ``region``."""

    region: str
    access_key_id: str
    secret_access_key: SecretStr

    def __repr__(self) -> str:
        return f"AwsAccessKey(region={self.region!r}, access_key_id={self.access_key_id!r})"


@dataclass(frozen=True)
class GcpServiceAccountKey:
    """A Google Cloud service account key (its JSON), exchanged for access tokens.

    Attributes:
        client_email: The service account, for messages.
        key_json: The key file's JSON as Google issued it.
    """

    client_email: str
    key_json: SecretStr

    def __repr__(self) -> str:
        return f"GcpServiceAccountKey(client_email={self.client_email!r})"

    def secrets(self) -> list[str]:
        """The key file and, line by line, the private key inside it."""
        text = self.key_json.get_secret_value()
        found = [text]
        try:
            private_key = json.loads(text).get("private_key", "")
        except (ValueError, AttributeError):
            return found
        if isinstance(private_key, str) and private_key:
            found += key_secrets(private_key)
            # In the JSON file the key's line breaks are written as "\n".
            found.append(json.dumps(private_key)[1:-1])
        return found


def key_secrets(key: str) -> list[str]:
    """A private key as text to mask: whole, and each line of key material on its own."""
    lines = [line.strip() for line in key.splitlines()]
    material = [line for line in lines if len(line) >= _KEY_LINE_MIN and "-----" not in line]
    return [key.strip(), *material]


def gcp_service_account_key(text: str, where: str) -> GcpServiceAccountKey:
    """The service account key in ``text``: its JSON, base64-encoded as Kargo wants it or not.

    Raises:
        CredentialsError: ``text`` is not a service account key file; ``where`` names it.
    """
    key = text if text.lstrip().startswith("{") else decoded_key(text, where)
    try:
        parsed = json.loads(key)
    except ValueError:
        parsed = None
    fields = ("client_email", "private_key", "token_uri")
    if not isinstance(parsed, dict) or not all(isinstance(parsed.get(f), str) for f in fields):
        raise CredentialsError(
            f"{where} is not a service account key file (JSON with client_email, "
            "private_key and token_uri)"
        )
    return GcpServiceAccountKey(parsed["client_email"], SecretStr(key))


_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def decoded_key(key: str, where: str) -> str:
    """``key`` decoded from base64 when it is base64, else as it is.

    Kargo once required keys base64-encoded and still accepts them that way.

    Raises:
        CredentialsError: ``key`` looks like base64 but does not decode; ``where`` names it.
    """
    compact = "".join(key.split())
    try:
        return base64.b64decode(compact, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        if _BASE64.match(compact) and "-----" not in key:
            raise CredentialsError(f"{where} looks like corrupt base64") from None
        return key

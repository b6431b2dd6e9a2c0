"""Repository credentials: what to authenticate with for which repository URL.

Kargo keeps credentials in Secrets labelled ``kargo.akuity.io/cred-type: git|helm|image``
whose ``repoURL`` is either the exact URL or, with ``repoURLIsRegex: "true"``, a regular
expression. This module holds the same rules as plain data; where the rules come from (a
Dagster resource, environment variables, Kubernetes Secrets) is the caller's business.

Besides a username and password, a Secret may hold an SSH private key (``sshPrivateKey``,
for git over SSH), a GitHub App (``githubAppID`` or ``githubAppClientID``,
``githubAppInstallationID``, ``githubAppPrivateKey``), an AWS access key for ECR
(``awsRegion``, ``awsAccessKeyID``, ``awsSecretAccessKey``) or a Google Cloud service account
key for Artifact Registry (``gcpServiceAccountKey``). The last three are exchanged for
short-lived tokens by :mod:`kargo_dagster.clients.credential_exchange`; this module only
reads and checks them (:func:`credentials_from_fields`).

Every secret is a ``pydantic.SecretStr``: printing, logging or dumping a ``Credentials``
shows ``**********``, never the secret.
"""

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, cast

from pydantic import SecretStr

from kargo_dagster.credential_kinds import (
    AwsAccessKey,
    GcpServiceAccountKey,
    GitHubApp,
    decoded_key,
    gcp_service_account_key,
    key_secrets,
)
from kargo_dagster.errors import CredentialsError
from kargo_dagster.redaction import basic_auth_secrets

CredentialType = Literal["git", "helm", "image"]


@dataclass(frozen=True)
class Credentials:
    """What to authenticate with at one repository.

    Attributes:
        username: The username (HTTP Basic).
        password: The password or token (HTTP Basic).
        ssh_private_key: A private key for git over SSH.
        ssh_known_hosts: ``known_hosts`` lines the SSH server's host key is checked against.
        github_app: A GitHub App to get installation tokens from, instead of a password.
        aws_access_key: An AWS access key to get ECR tokens with, instead of a password.
        gcp_service_account_key: A Google Cloud service account key to get Artifact
            Registry (and Container Registry) tokens with, instead of a password.
    """

    username: str
    password: SecretStr = field(default_factory=lambda: SecretStr(""))
    ssh_private_key: SecretStr | None = None
    ssh_known_hosts: str = ""
    github_app: GitHubApp | None = None
    aws_access_key: AwsAccessKey | None = None
    gcp_service_account_key: GcpServiceAccountKey | None = None

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}=..."
            for name, value in (
                ("ssh_private_key", self.ssh_private_key),
                ("github_app", self.github_app),
                ("aws_access_key", self.aws_access_key),
                ("gcp_service_account_key", self.gcp_service_account_key),
            )
            if value is not None
        )
        return f"Credentials(username={self.username!r}, password=SecretStr('**********'){extra})"

    def secrets(self) -> tuple[str, ...]:
        """What to mask in messages: the password and the Basic header value made of both,
        the private keys (whole and line by line), the AWS secret key and the service
        account key file."""
        found: list[str] = []
        password = self.password.get_secret_value()
        if password:
            found += [password, *basic_auth_secrets(self.username, password)]
        keys = [self.ssh_private_key]
        if self.github_app is not None:
            keys.append(self.github_app.private_key)
        for key in keys:
            if key is not None and key.get_secret_value():
                found += key_secrets(key.get_secret_value())
        if self.aws_access_key is not None:
            found.append(self.aws_access_key.secret_access_key.get_secret_value())
        if self.gcp_service_account_key is not None:
            found += self.gcp_service_account_key.secrets()
        return tuple(secret for secret in found if secret)


class CredentialStore(Protocol):
    """Anything that can find the credentials for a repository URL."""

    def lookup(self, kind: CredentialType, repo_url: str) -> Credentials | None:
        """The credentials for ``repo_url``, or None to go anonymous."""
        ...


@dataclass(frozen=True)
class CredentialRule:
    """Credentials for the repositories whose URL equals ``repo_url`` or matches it as a regex.

    Attributes:
        kind: Which kind of repository the rule is for.
        repo_url: The exact URL, or a regular expression when ``is_regex``.
        is_regex: Whether ``repo_url`` is a regular expression (matched with ``re.search``,
            as Go's ``regexp.MatchString`` does).
        credentials: What to send.
    """

    kind: CredentialType
    repo_url: str
    credentials: Credentials
    is_regex: bool = False

    def matches(self, kind: CredentialType, repo_url: str) -> bool:
        """Whether the rule applies to ``repo_url``."""
        if kind != self.kind:
            return False
        if self.is_regex:
            return re.search(self.repo_url, repo_url) is not None
        return _comparable(self.repo_url) == _comparable(repo_url)


def _comparable(url: str) -> str:
    # Kargo compares normalised URLs, so a trailing slash or ".git" does not matter.
    url = url.strip().rstrip("/")
    return url.removesuffix(".git").lower()


@dataclass(frozen=True)
class StaticCredentialStore:
    """Rules checked in order: exact matches win over regexes, then the first match wins."""

    rules: Sequence[CredentialRule] = field(default_factory=tuple)

    def lookup(self, kind: CredentialType, repo_url: str) -> Credentials | None:
        """The credentials of the best matching rule, if any."""
        exact = [r for r in self.rules if not r.is_regex and r.matches(kind, repo_url)]
        if exact:
            return exact[0].credentials
        for rule in self.rules:
            if rule.is_regex and rule.matches(kind, repo_url):
                return rule.credentials
        return None


@dataclass(frozen=True)
class ChainedCredentialStore:
    """Asks each store in turn; the first that knows the repository answers."""

    stores: Sequence[CredentialStore]

    def lookup(self, kind: CredentialType, repo_url: str) -> Credentials | None:
        """The first answer among the stores."""
        for store in self.stores:
            found = store.lookup(kind, repo_url)
            if found is not None:
                return found
        return None


NO_CREDENTIALS: CredentialStore = StaticCredentialStore()

# The data keys of a Kargo credential Secret that say how to authenticate.
SSH_PRIVATE_KEY = "sshPrivateKey"
GITHUB_APP_ID = "githubAppID"
GITHUB_APP_CLIENT_ID = "githubAppClientID"
GITHUB_APP_INSTALLATION_ID = "githubAppInstallationID"
GITHUB_APP_PRIVATE_KEY = "githubAppPrivateKey"
AWS_REGION = "awsRegion"
AWS_ACCESS_KEY_ID = "awsAccessKeyID"
AWS_SECRET_ACCESS_KEY = "awsSecretAccessKey"
_GITHUB_APP_KEYS = (
    GITHUB_APP_ID,
    GITHUB_APP_CLIENT_ID,
    GITHUB_APP_INSTALLATION_ID,
    GITHUB_APP_PRIVATE_KEY,
)
_AWS_KEYS = (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
GCP_SERVICE_ACCOUNT_KEY = "gcpServiceAccountKey"


def credentials_from_fields(
    kind: CredentialType,
    fields: Mapping[str, str],
    *,
    where: str,
    names: Mapping[str, str] | None = None,
) -> Credentials:
    """The credentials a Kargo credential Secret's data describes.

    Args:
        kind: The kind of repository the credentials are for.
        fields: The Secret's data, by Kargo's keys (``username``, ``sshPrivateKey``...).
        where: The Secret or setting, for error messages (``Secret kargo-demo/repo``).
        names: How messages name each key when the source spells them differently (an
            environment variable's name); default: the key itself.

    Raises:
        CredentialsError: A GitHub App or AWS key is incomplete, or given for a kind of
            repository it cannot authenticate to. The message names the fields, never
            their values.
    """

    def named(key: str) -> str:
        return (names or {}).get(key, key)

    def value(key: str) -> str:
        return fields.get(key, "") or ""

    github_app = None
    if any(value(key) for key in _GITHUB_APP_KEYS):
        github_app = _github_app(kind, value, named, where)
    aws_access_key = None
    if any(value(key) for key in _AWS_KEYS):
        missing = [named(key) for key in _AWS_KEYS if not value(key).strip()]
        if missing:
            raise CredentialsError(f"{where}: an AWS access key needs {', '.join(missing)}")
        if kind == "git":
            raise CredentialsError(f"{where}: an AWS access key is for image or helm (ECR)")
        aws_access_key = AwsAccessKey(
            value(AWS_REGION).strip(),
            value(AWS_ACCESS_KEY_ID).strip(),
            SecretStr(value(AWS_SECRET_ACCESS_KEY).strip()),
        )
    gcp_key = None
    if value(GCP_SERVICE_ACCOUNT_KEY).strip():
        if kind == "git":
            raise CredentialsError(
                f"{where}: {named(GCP_SERVICE_ACCOUNT_KEY)} is for image or helm (Google)"
            )
        gcp_key = gcp_service_account_key(
            value(GCP_SERVICE_ACCOUNT_KEY), f"{where}: {named(GCP_SERVICE_ACCOUNT_KEY)}"
        )
    ssh_private_key = None
    if value(SSH_PRIVATE_KEY).strip():
        if kind != "git":
            raise CredentialsError(f"{where}: {named(SSH_PRIVATE_KEY)} is for git only")
        ssh_private_key = SecretStr(value(SSH_PRIVATE_KEY))
    return Credentials(
        value("username"),
        SecretStr(value("password")),
        ssh_private_key=ssh_private_key,
        github_app=github_app,
        aws_access_key=aws_access_key,
        gcp_service_account_key=gcp_key,
    )


def _github_app(
    kind: CredentialType,
    value: "_Lookup",
    named: "_Lookup",
    where: str,
) -> GitHubApp:
    if kind != "git":
        raise CredentialsError(f"{where}: a GitHub App is for git only")
    app_id = value(GITHUB_APP_CLIENT_ID).strip() or value(GITHUB_APP_ID).strip()
    missing = [] if app_id else [f"{named(GITHUB_APP_ID)} or {named(GITHUB_APP_CLIENT_ID)}"]
    missing += [
        named(k) for k in (GITHUB_APP_INSTALLATION_ID, GITHUB_APP_PRIVATE_KEY) if not value(k)
    ]
    if missing:
        raise CredentialsError(f"{where}: a GitHub App needs {', '.join(missing)}")
    installation = value(GITHUB_APP_INSTALLATION_ID).strip()
    if not installation.isdigit():
        raise CredentialsError(f"{where}: {named(GITHUB_APP_INSTALLATION_ID)} must be a number")
    key = decoded_key(value(GITHUB_APP_PRIVATE_KEY), f"{where}: {named(GITHUB_APP_PRIVATE_KEY)}")
    return GitHubApp(app_id, int(installation), SecretStr(key))


class _Lookup(Protocol):
    def __call__(self, key: str, /) -> str: ...


ENV_PREFIX = "KARGO_DAGSTER_CREDS_"
SSH_KNOWN_HOSTS_ENV = "KARGO_DAGSTER_SSH_KNOWN_HOSTS"
# Each variable suffix and the Kargo Secret key it stands for.
_ENV_KEYS = {
    "USERNAME": "username",
    "PASSWORD": "password",
    "SSH_PRIVATE_KEY": SSH_PRIVATE_KEY,
    "GITHUB_APP_ID": GITHUB_APP_ID,
    "GITHUB_APP_CLIENT_ID": GITHUB_APP_CLIENT_ID,
    "GITHUB_APP_INSTALLATION_ID": GITHUB_APP_INSTALLATION_ID,
    "GITHUB_APP_PRIVATE_KEY": GITHUB_APP_PRIVATE_KEY,
    "AWS_REGION": AWS_REGION,
    "AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY,
    "GCP_SERVICE_ACCOUNT_KEY": GCP_SERVICE_ACCOUNT_KEY,
}
# Longest first, so that a suffix that ends another one is not taken for it.
_ENV_FIELDS = tuple(
    sorted(("TYPE", "REPO_URL", "REPO_URL_IS_REGEX", *_ENV_KEYS), key=len, reverse=True)
)


def credentials_from_env(environ: Mapping[str, str]) -> StaticCredentialStore:
    """Credential rules from environment variables, one group of variables per rule.

    Each rule is named by an identifier of your choice (``GHCR`` below) and has the fields of
    a Kargo credential Secret::

        KARGO_DAGSTER_CREDS_GHCR_TYPE=image            # git, helm or image
        KARGO_DAGSTER_CREDS_GHCR_REPO_URL=ghcr.io/acme/app
        KARGO_DAGSTER_CREDS_GHCR_REPO_URL_IS_REGEX=false   # optional
        KARGO_DAGSTER_CREDS_GHCR_USERNAME=bot
        KARGO_DAGSTER_CREDS_GHCR_PASSWORD=<token>

    Instead of ``PASSWORD`` a git rule may give ``SSH_PRIVATE_KEY``, or a GitHub App with
    ``GITHUB_APP_ID`` (or ``GITHUB_APP_CLIENT_ID``), ``GITHUB_APP_INSTALLATION_ID`` and
    ``GITHUB_APP_PRIVATE_KEY``; an image or helm rule for ECR may give ``AWS_REGION``,
    ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``, and one for Google Artifact Registry
    ``GCP_SERVICE_ACCOUNT_KEY``. SSH keys are checked against the
    host keys in ``KARGO_DAGSTER_SSH_KNOWN_HOSTS``
    (:mod:`kargo_dagster.ssh_known_hosts`).

    Raises:
        CredentialsError: A rule is incomplete or its type or regex is invalid. The message
            names the variables, never their values.
    """
    names: set[str] = set()
    for key in environ:
        if key.startswith(ENV_PREFIX):
            for suffix in _ENV_FIELDS:
                if key.endswith("_" + suffix) and len(key) > len(ENV_PREFIX) + len(suffix) + 1:
                    names.add(key[len(ENV_PREFIX) : -len(suffix) - 1])
                    break
    rules: list[CredentialRule] = []
    for name in sorted(names):
        prefix = f"{ENV_PREFIX}{name}_"
        values = {f: environ.get(prefix + f, "") for f in _ENV_FIELDS}
        missing = [prefix + f for f in ("TYPE", "REPO_URL") if not values[f]]
        if not any(values[f] for f in _ENV_KEYS if f != "USERNAME"):
            missing.append(prefix + "PASSWORD")
        if missing:
            raise CredentialsError(f"credential rule {name} is missing {', '.join(missing)}")
        kind = values["TYPE"].strip().lower()
        if kind not in ("git", "helm", "image"):
            raise CredentialsError(f"{prefix}TYPE must be git, helm or image")
        is_regex = values["REPO_URL_IS_REGEX"].strip().lower() == "true"
        credentials = credentials_from_fields(
            cast(CredentialType, kind),
            {key: values[suffix] for suffix, key in _ENV_KEYS.items()},
            where=f"credential rule {name}",
            names={key: prefix + suffix for suffix, key in _ENV_KEYS.items()},
        )
        if credentials.ssh_private_key is not None:
            known_hosts = environ.get(SSH_KNOWN_HOSTS_ENV, "")
            credentials = dataclasses.replace(credentials, ssh_known_hosts=known_hosts)
        rules.append(
            CredentialRule(
                kind=cast(CredentialType, kind),
                repo_url=values["REPO_URL"].strip(),
                is_regex=is_regex,
                credentials=credentials,
            )
        )
        if is_regex:
            _check_regex(rules[-1].repo_url, f"{prefix}REPO_URL")
    return StaticCredentialStore(tuple(rules))


def _check_regex(pattern: str, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as error:
        raise CredentialsError(f"{where} is not a valid regular expression ({error})") from error


def secret_values(stores: Iterable[Credentials]) -> list[str]:
    """The secret strings among ``stores``, for scrubbing them from text before it is shown."""
    return [secret for credentials in stores for secret in credentials.secrets()]

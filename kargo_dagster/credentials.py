"""Repository credentials: which username and password to use for which repository URL.

Kargo keeps credentials in Secrets labelled ``kargo.akuity.io/cred-type: git|helm|image``
whose ``repoURL`` is either the exact URL or, with ``repoURLIsRegex: "true"``, a regular
expression. This module holds the same rules as plain data; where the rules come from (a
Dagster resource, environment variables, Kubernetes Secrets) is the caller's business.

The password is a ``pydantic.SecretStr``: printing, logging or dumping a ``Credentials``
shows ``**********``, never the secret.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, cast

from pydantic import SecretStr

from kargo_dagster.errors import CredentialsError
from kargo_dagster.redaction import basic_auth_secrets

CredentialType = Literal["git", "helm", "image"]


@dataclass(frozen=True)
class Credentials:
    """A username and password (or token) for one repository."""

    username: str
    password: SecretStr

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=SecretStr('**********'))"

    def secrets(self) -> tuple[str, ...]:
        """What to mask in messages: the password, and the Basic header value made of both."""
        password = self.password.get_secret_value()
        if not password:
            return ()
        return (password, *basic_auth_secrets(self.username, password))


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

ENV_PREFIX = "KARGO_DAGSTER_CREDS_"
_ENV_FIELDS = ("TYPE", "REPO_URL", "REPO_URL_IS_REGEX", "USERNAME", "PASSWORD")


def credentials_from_env(environ: Mapping[str, str]) -> StaticCredentialStore:
    """Credential rules from environment variables, one group of variables per rule.

    Each rule is named by an identifier of your choice (``GHCR`` below) and has the fields of
    a Kargo credential Secret::

        KARGO_DAGSTER_CREDS_GHCR_TYPE=image            # git, helm or image
        KARGO_DAGSTER_CREDS_GHCR_REPO_URL=ghcr.io/acme/app
        KARGO_DAGSTER_CREDS_GHCR_REPO_URL_IS_REGEX=false   # optional
        KARGO_DAGSTER_CREDS_GHCR_USERNAME=bot
        KARGO_DAGSTER_CREDS_GHCR_PASSWORD=<token>

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
        missing = [prefix + f for f in ("TYPE", "REPO_URL", "PASSWORD") if not values[f]]
        if missing:
            raise CredentialsError(f"credential rule {name} is missing {', '.join(missing)}")
        kind = values["TYPE"].strip().lower()
        if kind not in ("git", "helm", "image"):
            raise CredentialsError(f"{prefix}TYPE must be git, helm or image")
        is_regex = values["REPO_URL_IS_REGEX"].strip().lower() == "true"
        rules.append(
            CredentialRule(
                kind=cast(CredentialType, kind),
                repo_url=values["REPO_URL"].strip(),
                is_regex=is_regex,
                credentials=Credentials(values["USERNAME"], SecretStr(values["PASSWORD"])),
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
    return [c.password.get_secret_value() for c in stores if c.password.get_secret_value()]

"""Kargo credential Secrets read through the Kubernetes API.

Kargo looks for repository credentials in Secrets labelled ``kargo.akuity.io/cred-type``
(``git``, ``helm`` or ``image``) in the Project's namespace, then in shared namespaces. Each
Secret holds ``repoURL`` (``repoURLIsRegex: "true"`` makes it a regular expression) and
what to authenticate with: ``username`` and ``password``, or ``sshPrivateKey``, or a GitHub
App, or an AWS access key (:func:`~kargo_dagster.credentials.credentials_from_fields`); a
Secret whose fields do not add up is skipped with a warning naming it and the field.
Secrets are listed once per namespace and cached for a short time, so a sensor tick costs
at most one API call per namespace. Each call has a read timeout and a total deadline
(:mod:`kargo_dagster.clients.kube.deadlines`).
"""

import base64
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import kubernetes

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE, RequestDeadlineExceeded
from kargo_dagster.clients.kube.deadlines import call_within
from kargo_dagster.credentials import (
    CredentialRule,
    Credentials,
    CredentialType,
    credentials_from_fields,
)
from kargo_dagster.errors import CredentialsError

logger = logging.getLogger(__name__)

CRED_TYPE_LABEL = "kargo.akuity.io/cred-type"
_KINDS: tuple[CredentialType, ...] = ("git", "helm", "image")


@dataclass
class _Cached:
    rules: list[CredentialRule]
    fetched_at: float


class KubernetesCredentialStore:
    """Credential rules from Kargo-format Secrets, namespace by namespace.

    Args:
        api_client: A configured ``kubernetes`` API client.
        namespaces: Where to look, in order (the Project's namespace first, then shared ones).
        ttl_seconds: How long a namespace's Secrets are reused before they are listed again.
        clock: The time source (seconds), replaceable in tests.
        request_timeout: Seconds allowed for each read of a request.
        request_deadline: Seconds each request may take in all.
    """

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        namespaces: Sequence[str],
        *,
        ttl_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        request_timeout: float = 10.0,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
    ) -> None:
        self._api_client = api_client
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._timeout = request_timeout
        self._deadline = request_deadline
        self._namespaces = list(namespaces)
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, _Cached] = {}

    def lookup(self, kind: CredentialType, repo_url: str) -> Credentials | None:
        """The credentials for ``repo_url``: exact matches first, then regexes, per namespace."""
        for namespace in self._namespaces:
            rules = self._rules(namespace)
            for rule in [r for r in rules if not r.is_regex] + [r for r in rules if r.is_regex]:
                if rule.matches(kind, repo_url):
                    return rule.credentials
        return None

    def _rules(self, namespace: str) -> list[CredentialRule]:
        cached = self._cache.get(namespace)
        now = self._clock()
        if cached is not None and now - cached.fetched_at < self._ttl:
            return cached.rules
        try:
            answer = call_within(
                self._core.list_namespaced_secret,
                namespace,
                label_selector=CRED_TYPE_LABEL,
                method="GET",
                host=str(self._api_client.configuration.host),
                timeout=self._timeout,
                deadline=self._deadline,
            )
            secrets = cast(
                kubernetes.client.V1SecretList,
                self._api_client.deserialize(answer, "V1SecretList"),
            )
        except kubernetes.client.ApiException as error:
            # The body of an API error may echo request data; report the status only.
            raise CredentialsError(
                f"cannot list credential Secrets in namespace {namespace} "
                f"(Kubernetes API answered {error.status} {error.reason})"
            ) from None
        except RequestDeadlineExceeded as error:
            raise CredentialsError(
                f"the Kubernetes API was too slow to list credential Secrets in namespace "
                f"{namespace}: {error}"
            ) from None
        except Exception as error:  # noqa: BLE001 - urllib3 raises many kinds for one cause
            raise CredentialsError(
                f"cannot reach the Kubernetes API to list credential Secrets in namespace "
                f"{namespace} ({type(error).__name__})"
            ) from None
        rules = [
            rule
            for item in sorted(secrets.items or [], key=_secret_name)
            if (rule := _rule(item)) is not None
        ]
        self._cache[namespace] = _Cached(rules, now)
        return rules


def _secret_name(item: kubernetes.client.V1Secret) -> str:
    return item.metadata.name if item.metadata else ""


def _rule(item: kubernetes.client.V1Secret) -> CredentialRule | None:
    metadata = item.metadata or kubernetes.client.V1ObjectMeta()
    kind = (metadata.labels or {}).get(CRED_TYPE_LABEL, "")
    where = f"Secret {metadata.namespace}/{metadata.name}"
    if kind not in _KINDS:
        logger.debug("%s: cred-type %r is not one kargo-dagster uses; skipped", where, kind)
        return None
    data = {k: base64.b64decode(v).decode() for k, v in (item.data or {}).items()}
    repo_url = data.get("repoURL", "")
    if not repo_url:
        logger.warning("%s has no repoURL; skipped", where)
        return None
    is_regex = data.get("repoURLIsRegex", "").strip().lower() == "true"
    if is_regex:
        try:
            re.compile(repo_url)
        except re.error:
            logger.warning("%s: repoURL is not a valid regular expression; skipped", where)
            return None
    try:
        credentials = credentials_from_fields(cast(CredentialType, kind), data, where=where)
    except CredentialsError as error:
        logger.warning("%s; skipped", error)
        return None
    return CredentialRule(
        kind=cast(CredentialType, kind),
        repo_url=repo_url,
        is_regex=is_regex,
        credentials=credentials,
    )

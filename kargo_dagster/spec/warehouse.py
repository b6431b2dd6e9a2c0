"""Warehouse and its image, Git and Helm chart subscriptions (Kargo v1.11.2).

Fields, patterns and defaults follow the v1.11.2 subscription JSON schemas and the defaults
the Kargo webhook applies (``SemVer``/``NewestFromBranch``, ``strictSemvers: true``,
``discoveryLimit: 20``). The ``allowTags``/``ignoreTags`` fields are not modelled: Kargo
v1.11 fails discovery when they are set, so the loader rejects them (see ``removed.py``).
"""

import re
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from pydantic import Field, model_validator

from kargo_dagster.redaction import has_credentials
from kargo_dagster.spec.base import DNS1123_SUBDOMAIN, KargoModel, KargoObject, rule_error
from kargo_dagster.spec.durations import KubeDuration
from kargo_dagster.spec.meta import ObjectMeta

__all__ = [
    "ChartSubscription",
    "FreightCreationCriteria",
    "GitSubscription",
    "ImageSubscription",
    "RepoSubscription",
    "SubscriptionKind",
    "Warehouse",
    "WarehouseSpec",
]

SubscriptionKind = Literal["image", "git", "chart"]

_IMAGE_REPO_URL = r"^(\w+([\.-]\w+)*(:[\d]+)?/)?(\w+([\.-]\w+)*)(/\w+([\.-]\w+)*)*$"
_GIT_REPO_URL = (
    r"(?:^(ssh|https?)://(?:([\w-]+)(:(.+))?@)?([\w-]+(?:\.[\w-]+)*)(?::(\d{1,5}))?(/.*)$)"
    r"|(?:^([\w-]+)@([\w+]+(?:\.[\w-]+)*):(/?.*))$"
)
_CHART_REPO_URL = r"^(((https?)|(oci))://)(([\w\d\.\-]+)(:([\d]+)?)?(/.*)*)$"
_BRANCH = r"^[a-zA-Z0-9]([a-zA-Z0-9._\/-]*[a-zA-Z0-9_-])?$"


def _check_regexes(field: str, patterns: list[str]) -> None:
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise rule_error(f"not a valid regular expression ({exc})", f"{field}.{index}") from exc


class _RepositorySubscription(KargoModel):
    """A subscription to a repository named by ``repoURL``."""

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: object) -> object:
        # Refused before the URL's pattern would echo them: credentials would be copied into
        # Freight, metadata and the UI; Kargo keeps them in credential Secrets for that reason.
        url = cast("dict[str, object]", data).get("repoURL") if isinstance(data, dict) else None
        if not isinstance(url, str):
            return data
        if cls._carries_credentials(url):
            raise rule_error(
                "must not carry credentials; remove them from the URL and configure them as "
                "repository credentials instead (the kargo resource's credentials, "
                "KARGO_DAGSTER_CREDS_* variables or a Kargo credential Secret)",
                "repoURL",
            )
        return data

    @classmethod
    def _carries_credentials(cls, url: str) -> bool:
        # user:password@host without a scheme too; scp-like git@host:path is an SSH user.
        return has_credentials(url) or ":" in _schemeless_userinfo(url)


def _schemeless_userinfo(url: str) -> str:
    """What comes before ``@`` in the host part of a URL without a scheme, else empty."""
    if "://" in url:
        return ""
    head = url.split("/", 1)[0]
    return head.rpartition("@")[0]


class ImageSubscription(_RepositorySubscription):
    """A subscription to a container image repository.

    Attributes:
        repo_url: The image repository, without a tag (``ghcr.io/akuity/guestbook``).
        image_selection_strategy: How the newest image is chosen.
        constraint: A semver range for ``SemVer``; the mutable tag to track for ``Digest``.
        strict_semvers: Only consider tags with major, minor and patch (``SemVer`` only).
        allow_tags_regexes: Tags must match at least one of these.
        ignore_tags_regexes: Tags matching any of these are skipped.
        platform: ``<os>/<arch>`` the image must support.
        discovery_limit: How many references to keep, 1 to 100.
        cache_by_tag: Cache image metadata by tag (unsafe for mutable tags).
        insecure_skip_tls_verify: Ignore TLS certificate errors.
    """

    repo_url: str = Field(min_length=1, pattern=_IMAGE_REPO_URL)
    image_selection_strategy: Literal["SemVer", "Digest", "Lexical", "NewestBuild"] = "SemVer"
    constraint: str | None = None
    strict_semvers: bool = True
    allow_tags_regexes: list[str] = Field(default_factory=list)
    ignore_tags_regexes: list[str] = Field(default_factory=list)
    platform: str | None = Field(default=None, pattern=r"^\w+/\w+$")
    discovery_limit: int = Field(default=20, ge=1, le=100)
    cache_by_tag: bool = False
    insecure_skip_tls_verify: bool = False

    @classmethod
    def _carries_credentials(cls, url: str) -> bool:
        # An image reference has no user part: anything before @ in its host is a token.
        return has_credentials(url) or bool(_schemeless_userinfo(url))

    @model_validator(mode="after")
    def _check(self) -> "ImageSubscription":
        if self.image_selection_strategy == "Digest" and not self.constraint:
            raise rule_error(
                "must name the tag to track when imageSelectionStrategy is Digest "
                "(e.g. constraint: latest)",
                "constraint",
            )
        _check_regexes("allowTagsRegexes", self.allow_tags_regexes)
        _check_regexes("ignoreTagsRegexes", self.ignore_tags_regexes)
        return self


class GitSubscription(_RepositorySubscription):
    """A subscription to a Git repository.

    Attributes:
        repo_url: The repository URL (HTTPS preferred; SSH is deprecated by Kargo).
        commit_selection_strategy: How the newest commit is chosen.
        branch: The branch for ``NewestFromBranch`` (default: the repository's default).
        strict_semvers: Only consider full ``x.y.z`` tags (``SemVer`` only).
        semver_constraint: A semver range for ``SemVer``.
        allow_tags_regexes: Tags must match one of these (tag-based strategies).
        ignore_tags_regexes: Tags matching any of these are skipped.
        expression_filter: An expr-lang filter over commit or tag metadata.
        include_paths: Only changes under these selectors (prefix, ``glob:``, ``regex:``).
        exclude_paths: Changes under these selectors are ignored.
        since: Ignore commits older than this instant.
        discovery_limit: How many commits to keep, 1 to 100.
        blobless: Clone with ``--filter=blob:none``.
        insecure_skip_tls_verify: Ignore TLS certificate errors.
    """

    repo_url: str = Field(min_length=1, pattern=_GIT_REPO_URL)
    commit_selection_strategy: Literal["NewestFromBranch", "SemVer", "Lexical", "NewestTag"] = (
        "NewestFromBranch"
    )
    branch: str | None = Field(default=None, min_length=1, max_length=255, pattern=_BRANCH)
    strict_semvers: bool = True
    semver_constraint: str | None = None
    allow_tags_regexes: list[str] = Field(default_factory=list)
    ignore_tags_regexes: list[str] = Field(default_factory=list)
    expression_filter: str | None = None
    include_paths: list[str] = Field(default_factory=list)
    exclude_paths: list[str] = Field(default_factory=list)
    since: datetime | None = None
    discovery_limit: int = Field(default=20, ge=1, le=100)
    blobless: bool = False
    insecure_skip_tls_verify: bool = False

    @model_validator(mode="after")
    def _check(self) -> "GitSubscription":
        _check_regexes("allowTagsRegexes", self.allow_tags_regexes)
        _check_regexes("ignoreTagsRegexes", self.ignore_tags_regexes)
        if self.since is not None and self.since.tzinfo is None:
            raise rule_error(
                "must be an RFC 3339 date-time with a zone, e.g. 2025-01-31T00:00:00Z", "since"
            )
        return self


class ChartSubscription(_RepositorySubscription):
    """A subscription to a Helm chart, in a classic (HTTP) repository or an OCI registry.

    Attributes:
        repo_url: ``https://…`` chart repository or ``oci://…`` chart reference.
        name: The chart's name; required for HTTP(S) repositories, forbidden for OCI.
        semver_constraint: A semver range limiting versions.
        discovery_limit: How many versions to keep, 1 to 100.
        insecure_skip_tls_verify: Ignore TLS certificate errors.
    """

    repo_url: str = Field(min_length=1, pattern=_CHART_REPO_URL)
    name: str | None = None
    semver_constraint: str | None = None
    discovery_limit: int = Field(default=20, ge=1, le=100)
    insecure_skip_tls_verify: bool = False

    @model_validator(mode="after")
    def _check(self) -> "ChartSubscription":
        if self.repo_url.startswith("oci://") and self.name:
            raise rule_error(
                "must be omitted for oci:// repositories, whose URL already names the chart "
                f"(write repoURL: {self.repo_url.rstrip('/')}/{self.name} instead)",
                "name",
            )
        if self.repo_url.startswith(("http://", "https://")) and not self.name:
            raise rule_error(
                "is required for http(s) chart repositories; add the chart's name", "name"
            )
        return self

    @property
    def is_oci(self) -> bool:
        """Whether the chart lives in an OCI registry."""
        return self.repo_url.startswith("oci://")


class GenericSubscription(KargoModel):
    """A subscription to something other than an image, git or chart repository."""

    subscription_type: str = Field(min_length=1)
    config: dict[str, Any] | None = None
    discovery_limit: int = Field(default=20, ge=1, le=100)


class RepoSubscription(KargoModel):
    """One entry of ``spec.subscriptions``: exactly one of ``image``, ``git`` or ``chart``.

    Attributes:
        name: Optional subscription name (RFC 1123), unique within the Warehouse.
    """

    name: str | None = Field(default=None, max_length=253, pattern=DNS1123_SUBDOMAIN)
    image: ImageSubscription | None = None
    git: GitSubscription | None = None
    chart: ChartSubscription | None = None
    generic: GenericSubscription | None = Field(
        default=None, validation_alias="subscription", serialization_alias="subscription"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> "RepoSubscription":
        if self.generic is not None:
            # Kargo v1.11 declares the field but registers subscribers only for images, git
            # and charts: such a Warehouse never discovers anything there either.
            raise rule_error(
                f"generic subscriptions (subscriptionType "
                f"{self.generic.subscription_type!r}) have no subscriber in Kargo v1.11 "
                "or in kargo-dagster; subscribe to an image, git or chart repository instead",
                "subscription",
            )
        present = [key for key in ("image", "git", "chart") if getattr(self, key) is not None]
        if len(present) != 1:
            got = ", ".join(present) if present else "none"
            raise rule_error(
                f"a subscription needs exactly one of image, git or chart (got {got}); "
                "write one list item per repository"
            )
        return self

    @property
    def kind(self) -> SubscriptionKind:
        """``"image"``, ``"git"`` or ``"chart"``."""
        if self.image is not None:
            return "image"
        if self.git is not None:
            return "git"
        return "chart"

    @property
    def subscription(self) -> ImageSubscription | GitSubscription | ChartSubscription:
        """The one subscription that is set."""
        sub = self.image or self.git or self.chart
        assert sub is not None  # guaranteed by the validator
        return sub


class FreightCreationCriteria(KargoModel):
    """An expression over discovered artifacts that must hold for automatic Freight."""

    expression: str | None = None


class WarehouseSpec(KargoModel):
    """``Warehouse.spec``.

    Attributes:
        interval: How often to discover artifacts (default 5m).
        freight_creation_policy: Create Freight automatically or only by hand.
        freight_creation_criteria: Extra condition for automatic creation.
        shard: The controller shard (kept for fidelity; kargo-dagster has no shards).
        subscriptions: At least one subscription.
    """

    interval: KubeDuration = timedelta(minutes=5)
    freight_creation_policy: Literal["Automatic", "Manual"] = "Automatic"
    freight_creation_criteria: FreightCreationCriteria | None = None
    shard: str | None = None
    subscriptions: list[RepoSubscription] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "WarehouseSpec":
        # Kargo refuses a repository subscribed twice: the Freight would hold two artifacts
        # that Freight-reading expressions such as imageFrom(url) cannot tell apart.
        seen: dict[tuple[str, str], int] = {}
        names: dict[str, int] = {}
        for index, sub in enumerate(self.subscriptions):
            key = (sub.kind, _repo_identity(sub))
            if key in seen:
                raise rule_error(
                    f"{sub.kind} repository {sub.subscription.repo_url!r} is already subscribed "
                    f"at subscriptions.{seen[key]}; remove one of them",
                    f"subscriptions.{index}.{sub.kind}.repoURL",
                )
            seen[key] = index
            if sub.name is not None:
                if sub.name in names:
                    raise rule_error(
                        f"subscription name {sub.name!r} is already used at "
                        f"subscriptions.{names[sub.name]}; pick another name",
                        f"subscriptions.{index}.name",
                    )
                names[sub.name] = index
        return self


def _repo_identity(sub: RepoSubscription) -> str:
    url = sub.subscription.repo_url.strip().lower().rstrip("/")
    url = url.removesuffix(".git")
    if sub.chart is not None and not sub.chart.is_oci:
        # A classic chart repository holds many charts; the chart name is part of the key.
        url = f"{url}:{sub.chart.name}"
    return url


class Warehouse(KargoObject):
    """A Kargo Warehouse: where Freight comes from."""

    api_version: Literal["kargo.akuity.io/v1alpha1"]
    kind: Literal["Warehouse"]
    metadata: ObjectMeta
    spec: WarehouseSpec
    status: dict[str, object] | None = None

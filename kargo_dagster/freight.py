"""Freight: one set of artifact versions from one Warehouse, identified exactly as Kargo does.

The ID is Kargo's ``GenerateFreightID`` (``pkg/api/freight.go``): the hex SHA-1 of
``"<kind>/<name>:"`` followed by the ``|``-joined, sorted artifact parts:

=========  ===================================================================
commit     ``normalize_git_url(repoURL):[tag:]id[:subscriptionName]``
image      ``repoURL:tag@digest[:subscriptionName]`` (repoURL taken verbatim)
chart      ``path.Join(normalize_chart_repo_url(repoURL), name):version[:sub]``
=========  ===================================================================

Kargo's URL normalisers (``pkg/urls``) lean on Go's ``net/url`` and go-containerregistry's
``name`` package, and their quirks reach the ID: an HTTP chart repository loses one slash
(``path.Join`` cleans ``https://`` into ``https:/``). So the minimal parts of both libraries
that the normalisers touch are ported in ``kargo_dagster.urls`` rather than approximated
with ``urllib``.

The partition key puts the versions first, ``<versions>-<first 7 hex of the ID>``
(``v0.3.0-d095447``), so a person can tell Freight apart in the UI and type its key on a
command line. It is a pure function of the artifacts, and distinct for IDs whose 7-hex
prefixes differ. The Kargo-style alias ``<adjective>-<animal>-<first 7 hex>`` is still
derived from the ID: it was the partition key before, so Freight recorded then keeps it as its
key, and ``parse_partition_key`` reads both forms. This module never imports Dagster.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kargo_dagster.errors import FreightError
from kargo_dagster.freight_words import ADJECTIVES, ANIMALS
from kargo_dagster.json_names import kargo_json_name
from kargo_dagster.redaction import redact_url
from kargo_dagster.urls import go_path_join, normalize_chart_repo_url, normalize_git_url

__all__ = [
    "LEGACY_PARTITION_KEY_PATTERN",
    "PARTITION_KEY_PATTERN",
    "Chart",
    "Freight",
    "FreightOrigin",
    "GitCommit",
    "Image",
    "normalize_chart_repo_url",
    "normalize_git_url",
    "parse_partition_key",
]

# Every partition key ends in "-" and the ID's first 7 hex digits. What comes before starts
# with a letter or digit (a key starting with "-" would read as an option on a command line)
# and never holds "..", so never Dagster's forbidden "..." either. Legacy keys
# (<adjective>-<animal>-<hex>, below) match this pattern too.
PARTITION_KEY_PATTERN = re.compile(r"^(?!.*\.\.)([A-Za-z0-9][A-Za-z0-9.+_-]*)-([0-9a-f]{7})$")
# The key of Freight recorded before keys showed versions: its Kargo-style alias.
LEGACY_PARTITION_KEY_PATTERN = re.compile(r"^([a-z]+)-([a-z]+)-([0-9a-f]{7})$")

# A token keeps ASCII letters, digits, ".", "+" and "-": Dagster accepts them in partition
# keys (it forbids "...", control characters, and "|", ",", "[", "]" in multi-partition keys)
# and no shell gives them a meaning. "_" is reserved to separate tokens.
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9.+-]+")
_DASH_RUN = re.compile(r"-{2,}")
_DOT_RUN = re.compile(r"\.{2,}")
MAX_TOKEN_LENGTH = 40
MAX_TOKENS = 3


# --- Models ----------------------------------------------------------------------------------


class _Model(BaseModel):
    # Field names are Pythonic; Kargo's JSON names are aliases, so by_alias dumps look like
    # Kargo's Freight and Kargo's JSON validates directly.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=kargo_json_name
    )


def _with_subscription(base: str, subscription_name: str) -> str:
    # Kargo appends the name only when set, so unnamed subscriptions keep their old IDs.
    return f"{base}:{subscription_name}" if subscription_name else base


class Image(_Model):
    """One container image version, as in Kargo's ``Freight.images[]``.

    Examples:
        >>> Image(repo_url="ghcr.io/akuity/guestbook", tag="v0.0.1", digest="sha256:0f3d").id_part
        'ghcr.io/akuity/guestbook:v0.0.1@sha256:0f3d'
    """

    repo_url: str
    tag: str = ""
    digest: str = ""
    annotations: dict[str, str] = Field(default_factory=dict)
    subscription_name: str = ""

    @model_validator(mode="after")
    def _require_identity(self) -> "Image":
        if not self.repo_url:
            raise FreightError("an image needs a repoURL")
        if not (self.tag or self.digest):
            raise FreightError("an image needs a tag or a digest")
        return self

    @property
    def id_part(self) -> str:
        """This image's part of the Freight ID: the repoURL verbatim (Kargo does not
        normalise it), then both tag and digest, since either may move independently."""
        return _with_subscription(
            f"{self.repo_url}:{self.tag}@{self.digest}", self.subscription_name
        )

    def __hash__(self) -> int:
        # The annotations dict would make the generated hash fail; hash its items instead.
        fields = (self.repo_url, self.tag, self.digest, self.subscription_name)
        return hash((*fields, tuple(sorted(self.annotations.items()))))


class GitCommit(_Model):
    """One commit of one Git repository, as in Kargo's ``Freight.commits[]``.

    Examples:
        >>> GitCommit(repo_url="https://github.com/Example/Repo.git", id="abc123", tag="v1").id_part
        'https://github.com/example/repo:v1:abc123'
    """

    repo_url: str
    id: str
    branch: str = ""
    tag: str = ""
    message: str = ""
    author: str = ""
    committer: str = ""
    subscription_name: str = ""

    @model_validator(mode="after")
    def _require_identity(self) -> "GitCommit":
        if not self.repo_url:
            raise FreightError("a commit needs a repoURL")
        if not self.id:
            raise FreightError("a commit needs an id")
        return self

    @property
    def id_part(self) -> str:
        """This commit's part of the Freight ID; the tag is included because re-tagging a
        commit (``v1.0.0-rc.1`` then ``v1.0.0``) must make new Freight."""
        url = normalize_git_url(self.repo_url)
        base = f"{url}:{self.tag}:{self.id}" if self.tag else f"{url}:{self.id}"
        return _with_subscription(base, self.subscription_name)


class Chart(_Model):
    """One Helm chart version, as in Kargo's ``Freight.charts[]``.

    ``name`` is set for classic HTTP(S) repositories and empty for OCI ones, where the
    repository URL already names the chart.

    Examples:
        >>> Chart(repo_url="oci://ghcr.io/akuity/charts/kargo", version="1.0.0").id_part
        'ghcr.io/akuity/charts/kargo:1.0.0'
        >>> Chart(repo_url="https://charts.example.com", name="app", version="2.1.0").id_part
        'https:/charts.example.com/app:2.1.0'
    """

    repo_url: str
    name: str = ""
    version: str
    subscription_name: str = ""

    @model_validator(mode="after")
    def _require_identity(self) -> "Chart":
        if not self.repo_url:
            raise FreightError("a chart needs a repoURL")
        if not self.version:
            raise FreightError("a chart needs a version")
        return self

    @property
    def id_part(self) -> str:
        """This chart's part of the Freight ID. Like Kargo, it joins URL and name with Go's
        ``path.Join``, which also collapses ``https://`` to ``https:/``."""
        location = go_path_join(normalize_chart_repo_url(self.repo_url), self.name)
        return _with_subscription(f"{location}:{self.version}", self.subscription_name)


class FreightOrigin(_Model):
    """Where Freight comes from; Kargo knows only Warehouses.

    Examples:
        >>> str(FreightOrigin(name="guestbook"))
        'Warehouse/guestbook'
    """

    kind: Literal["Warehouse"] = "Warehouse"
    name: str

    @model_validator(mode="after")
    def _require_name(self) -> "FreightOrigin":
        if not self.name or "/" in self.name:
            raise FreightError("a Freight origin needs a Warehouse name without '/'")
        return self

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def _alias_for(freight_id: str) -> str:
    # Words come from bytes 4-11, past the 7 hex digits shown verbatim, so they add variety
    # instead of repeating the prefix. The modulo bias over 2**32 is negligible.
    digest = bytes.fromhex(freight_id)
    adjective = ADJECTIVES[int.from_bytes(digest[4:8], "big") % len(ADJECTIVES)]
    animal = ANIMALS[int.from_bytes(digest[8:12], "big") % len(ANIMALS)]
    return f"{adjective}-{animal}-{freight_id[:7]}"


def _token(version: str, fallback: str) -> str:
    """``version`` as one part of a partition key, or ``fallback`` if nothing of it is safe.

    Examples:
        >>> _token("release/1.2_rc 1", "x"), _token("v1...2+build", "x"), _token("__", "chart")
        ('release-1.2-rc-1', 'v1.2+build', 'chart')
    """
    token = _DOT_RUN.sub(".", _DASH_RUN.sub("-", _UNSAFE_RUN.sub("-", version)))
    # Stripping after the cut keeps a cut from ending the token in a separator; stripping the
    # start keeps the key from starting with "-" (an option, to a command line).
    return token[:MAX_TOKEN_LENGTH].strip(".+-") or fallback


def _image_token(image: Image) -> str:
    # An untagged image shows its digest as "sha256-<7 hex>", the short form people recognise.
    algorithm, _, digest_hex = image.digest.partition(":")
    by_digest = _token(f"{algorithm}-{digest_hex[:7]}" if digest_hex else image.digest, "image")
    return _token(image.tag, by_digest)


# Object-level fields of a Kargo Freight resource that are not part of its contents.
_KARGO_OBJECT_FIELDS = frozenset(
    {"apiVersion", "kind", "metadata", "alias", "discoveredAt", "status", "artifacts"}
)


class Freight(_Model):
    """A set of artifact versions from one Warehouse; Kargo's ``Freight`` minus its status.

    Artifacts keep the order given (Kargo keeps subscription order); the ID does not depend
    on it.

    Raises:
        FreightError: There is no artifact, or an artifact lacks what identifies it.

    Examples:
        >>> freight = Freight(
        ...     origin=FreightOrigin(name="guestbook"),
        ...     images=(Image(repo_url="ghcr.io/akuity/guestbook", tag="v1", digest="sha256:0f"),),
        ... )
        >>> freight.id
        '6e372ca37f877154bba815594de5b95e5477cab0'
        >>> freight.partition_key
        'v1-6e372ca'
        >>> freight.alias
        'azure-bobcat-6e372ca'
    """

    origin: FreightOrigin
    images: tuple[Image, ...] = ()
    commits: tuple[GitCommit, ...] = ()
    charts: tuple[Chart, ...] = ()

    @model_validator(mode="after")
    def _require_artifact(self) -> "Freight":
        if not (self.images or self.commits or self.charts):
            raise FreightError(
                f"Freight from {self.origin} must contain at least one commit, image, or chart"
            )
        return self

    @property
    def id(self) -> str:
        """Kargo's Freight ID (also the Freight's resource name): a 40-digit hex SHA-1."""
        # Code-point order is Go's byte order for UTF-8, so sorted() matches slices.Sort.
        parts = sorted(a.id_part for a in (*self.commits, *self.images, *self.charts))
        payload = f"{self.origin}:{'|'.join(parts)}"
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()

    @property
    def alias(self) -> str:
        """``<adjective>-<animal>-<first 7 hex of id>``, derived from the ID alone.

        Kargo gives each Freight a readable alias; this is ours. It was the partition key
        before keys showed versions, so Freight recorded then is still found under it.
        """
        return _alias_for(self.id)

    @property
    def partition_key(self) -> str:
        """The Dagster partition key: the versions, then the first 7 hex digits of the ID.

        One token per artifact, images (tag, else ``sha256-<7 hex>`` of the digest), then
        charts (version), then commits (tag, else the first 7 characters of the ID), joined
        by ``_``; at most three, then ``_+N`` for the rest. Each token keeps ASCII letters,
        digits, ``.``, ``+`` and ``-`` (anything else becomes ``-``) and at most 40 of them.
        The hex suffix makes the key as unique as the ID's prefix, whatever the versions.

        Examples:
            >>> origin = FreightOrigin(name="w")
            >>> commit = GitCommit(repo_url="https://github.com/a/b", id="0123456789abcdef")
            >>> chart = Chart(repo_url="oci://ghcr.io/a/c", version="1.2.0+build.7")
            >>> image = Image(repo_url="ghcr.io/a/b", digest="sha256:9f86d081884c7d65")
            >>> artifacts = {"images": (image,), "charts": (chart,), "commits": (commit,)}
            >>> Freight(origin=origin, **artifacts).partition_key
            'sha256-9f86d08_1.2.0+build.7_0123456-a134760'
            >>> images = tuple(Image(repo_url=f"r/{n}", tag=f"v{n}") for n in range(5))
            >>> Freight(origin=origin, images=images).partition_key
            'v0_v1_v2_+2-62055ee'
        """
        tokens = [_image_token(i) for i in self.images]
        tokens += [_token(c.version, "chart") for c in self.charts]
        tokens += [_token(c.tag, _token(c.id[:7], "commit")) for c in self.commits]
        if len(tokens) > MAX_TOKENS:
            tokens = [*tokens[:MAX_TOKENS], f"+{len(tokens) - MAX_TOKENS}"]
        return f"{'_'.join(tokens)}-{self.id[:7]}"

    @property
    def versions(self) -> tuple[str, ...]:
        """The versions people call this Freight by, in artifact order: image tags, chart
        versions, then git tags, else the commits' short IDs.

        Examples:
            >>> image = Image(repo_url="ghcr.io/a/b", tag="v1.2.3")
            >>> Freight(origin=FreightOrigin(name="w"), images=(image,)).versions
            ('v1.2.3',)
        """
        found = [image.tag for image in self.images if image.tag]
        found += [chart.version for chart in self.charts if chart.version]
        found += [commit.tag or commit.id[:7] for commit in self.commits if commit.id]
        return tuple(dict.fromkeys(found))

    @property
    def partition_keys(self) -> tuple[str, str]:
        """Every key this Freight may be recorded under: ``partition_key``, then the legacy
        key (``alias``) of Freight recorded before keys showed versions."""
        return self.partition_key, self.alias

    def to_json(self) -> dict[str, Any]:
        """Kargo's JSON for this Freight's contents, keys sorted and empty fields omitted.

        Examples:
            >>> chart = Chart(repo_url="oci://r/c", version="1")
            >>> Freight(origin=FreightOrigin(name="w"), charts=(chart,)).to_json()["charts"]
            [{'repoURL': 'oci://r/c', 'version': '1'}]
        """
        data: dict[str, Any] = {"origin": self.origin.model_dump(by_alias=True)}
        for key, items in (
            ("charts", self.charts),
            ("commits", self.commits),
            ("images", self.images),
        ):
            if items:
                data[key] = [
                    item.model_dump(by_alias=True, exclude_defaults=True) for item in items
                ]
        return json.loads(json.dumps(data, sort_keys=True))

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> "Freight":
        """Read Freight from ``to_json`` output or from a Kargo Freight resource.

        A Kargo resource's ``metadata.name`` is its ID, so when present it must match the ID
        computed here. Generic ``artifacts`` are not supported.

        Raises:
            FreightError: The data is not valid Freight. Messages name fields, never values.

        Examples:
            >>> text = '{"origin": {"name": "w"}, "charts": [{"repoURL": "r/c", "version": "1"}]}'
            >>> Freight.from_json(text).charts[0].version
            '1'
        """
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as e:
                raise FreightError(f"Freight JSON does not parse: {e.msg} at {e.pos}") from None
        if not isinstance(data, Mapping):
            raise FreightError("Freight JSON must be an object")
        if data.get("artifacts"):
            raise FreightError("Freight with generic 'artifacts' is not supported")
        contents = {k: v for k, v in data.items() if k not in _KARGO_OBJECT_FIELDS}
        try:
            freight = cls.model_validate(contents)
        except ValidationError as e:
            problems = [
                f"{'.'.join(str(p) for p in err['loc']) or '(freight)'}: {err['msg']}"
                for err in e.errors(include_url=False, include_input=False)
            ]
            raise FreightError("invalid Freight: " + "; ".join(problems)) from None
        metadata = data.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if name and name != freight.id:
            raise FreightError(
                f"Freight named {name!r} has artifacts whose Kargo ID is {freight.id!r}"
            )
        return freight

    def artifact_rows(self) -> list[dict[str, str]]:
        """One row per artifact for a human-readable table (images, commits, then charts).

        Credentials in ``http(s)`` URLs are masked, as Go's ``URL.Redacted`` does.

        Examples:
            >>> image = Image(repo_url="nginx", tag="1.27")
            >>> Freight(origin=FreightOrigin(name="w"), images=(image,)).artifact_rows()
            [{'type': 'image', 'repoURL': 'nginx', 'version': '1.27', 'detail': ''}]
        """
        rows = [("image", i.repo_url, i.tag, i.digest) for i in self.images]
        for c in self.commits:
            detail = ", ".join(
                f"{label} {value}"
                for label, value in (("tag", c.tag), ("branch", c.branch))
                if value
            )
            rows.append(("git", c.repo_url, c.id, " — ".join(filter(None, (detail, c.message)))))
        rows.extend(("chart", c.repo_url, c.version, c.name) for c in self.charts)
        return [
            {"type": kind, "repoURL": redact_url(url), "version": version, "detail": detail}
            for kind, url, version, detail in rows
        ]


def parse_partition_key(key: str) -> str:
    """Return the 7-hex-digit Freight ID prefix from a Freight partition key.

    Args:
        key: A key made by ``Freight.partition_key`` (``<versions>-<7 hex>``), or a legacy
            key, ``<adjective>-<animal>-<7 hex>``, of Freight recorded before keys showed
            versions.

    Raises:
        FreightError: ``key`` has neither form.

    Examples:
        >>> parse_partition_key("v0.3.0-d095447")
        'd095447'
        >>> parse_partition_key("azure-bobcat-6e372ca")
        '6e372ca'
    """
    match = PARTITION_KEY_PATTERN.fullmatch(key)
    if match is None:
        raise FreightError(
            f"{key[:80]!r} is not a Freight partition key: expected '<versions>-<first 7 hex "
            "digits of the Freight ID>', e.g. 'v0.3.0-1a2b3c4', or, for Freight recorded by "
            "older versions, '<adjective>-<animal>-<7 hex>', e.g. 'brave-otter-1a2b3c4'"
        )
    return match.group(2)

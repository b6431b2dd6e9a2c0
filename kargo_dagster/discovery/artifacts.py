"""What a subscription discovers: artifact versions, best first, ready to become Freight.

Each subscriber returns a list of one of these types, sorted best first and capped at the
subscription's ``discoveryLimit``; element 0 is what Automatic Freight creation takes.
"""

from dataclasses import dataclass, field
from datetime import datetime

from kargo_dagster.freight import Chart, GitCommit, Image


@dataclass(frozen=True)
class DiscoveredImage:
    """One image version: a tag and the digest it pointed to when discovered.

    Attributes:
        repo_url: The subscription's repository (``ghcr.io/akuity/guestbook``).
        tag: The tag.
        digest: The manifest digest (``sha256:…``); for an image index with ``platform`` set,
            the digest of the index (what a deployment pulls), as Kargo records it.
        created_at: The build date from the image config, when it was read.
        annotations: The manifest's OCI annotations.
    """

    repo_url: str
    tag: str
    digest: str
    created_at: datetime | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def to_freight(self, subscription_name: str = "") -> Image:
        """The Freight artifact for this version."""
        return Image(
            repo_url=self.repo_url,
            tag=self.tag,
            digest=self.digest,
            annotations=dict(self.annotations),
            subscription_name=subscription_name,
        )


@dataclass(frozen=True)
class DiscoveredCommit:
    """One git commit, with the tag that selected it for tag-based strategies."""

    repo_url: str
    id: str
    branch: str = ""
    tag: str = ""
    subject: str = ""
    author: str = ""
    committer: str = ""
    creator_date: datetime | None = None

    def to_freight(self, subscription_name: str = "") -> GitCommit:
        """The Freight artifact for this commit."""
        return GitCommit(
            repo_url=self.repo_url,
            id=self.id,
            branch=self.branch,
            tag=self.tag,
            message=self.subject,
            author=self.author,
            committer=self.committer,
            subscription_name=subscription_name,
        )


@dataclass(frozen=True)
class DiscoveredChart:
    """One chart version."""

    repo_url: str
    name: str
    version: str

    def to_freight(self, subscription_name: str = "") -> Chart:
        """The Freight artifact for this chart version."""
        return Chart(
            repo_url=self.repo_url,
            name=self.name,
            version=self.version,
            subscription_name=subscription_name,
        )

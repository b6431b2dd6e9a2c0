"""Which subscription URLs a pushed registry repository stands for.

A registry repository may hold images or OCI Helm charts, and Kargo normalises the two kinds
of URL differently. Where the sender names a media type that settles it (a Helm config blob;
an image index, Docker manifest or image config), the URL is normalised as that kind only;
otherwise as both, and the Warehouses subscribed under either form are refreshed.
"""

from kargo_dagster.urls import normalize_chart_repo_url, normalize_image_repo_url

__all__ = ["image_repo_urls"]

_IMAGE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)


def image_repo_urls(repo_url: str, media_type: str = "") -> tuple[str, ...]:
    """``repo_url`` normalised as an image repository, a chart repository, or both."""
    if media_type.startswith("application/vnd.cncf.helm"):
        return (normalize_chart_repo_url(repo_url),)
    if media_type in _IMAGE_MEDIA_TYPES:
        return (normalize_image_repo_url(repo_url),)
    return tuple(
        dict.fromkeys((normalize_image_repo_url(repo_url), normalize_chart_repo_url(repo_url)))
    )

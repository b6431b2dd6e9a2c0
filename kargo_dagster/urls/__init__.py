"""URL normalisation exactly as Kargo does it, for Kargo-compatible Freight IDs."""

from kargo_dagster.urls.normalize import (
    go_path_join,
    normalize_chart_repo_url,
    normalize_git_url,
    normalize_image_repo_url,
)

__all__ = [
    "go_path_join",
    "normalize_chart_repo_url",
    "normalize_git_url",
    "normalize_image_repo_url",
]

"""Kargo's JSON names come from field names: Go's camel case with its initialisms kept."""

import pytest

from kargo_dagster.json_names import go_json_name, kargo_json_name


@pytest.mark.parametrize(
    ("go_name", "json_name"),
    [
        ("RepoURL", "repoURL"),
        ("ID", "id"),
        ("CreatedAt", "createdAt"),
        ("CreatorDate", "creatorDate"),
        ("URLPath", "urlPath"),
        ("Kind", "kind"),
    ],
)
def test_go_field_names_become_their_json_tags(go_name: str, json_name: str) -> None:
    assert go_json_name(go_name) == json_name


@pytest.mark.parametrize(
    ("field_name", "json_name"),
    [
        ("repo_url", "repoURL"),
        ("id", "id"),
        ("url", "url"),
        ("subscription_name", "subscriptionName"),
        ("insecure_skip_tls_verify", "insecureSkipTLSVerify"),
        ("discovery_limit", "discoveryLimit"),
    ],
)
def test_snake_case_fields_become_kargo_json_names(field_name: str, json_name: str) -> None:
    assert kargo_json_name(field_name) == json_name

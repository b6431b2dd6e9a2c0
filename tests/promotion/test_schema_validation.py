"""Step configs are checked against Kargo's JSON schemas with Kargo's field paths."""

from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.schema_validation import (
    has_schema,
    schema_errors,
    validate_step_config,
)


@pytest.mark.parametrize(
    ("step", "config", "errors"),
    [
        ("yaml-update", {"path": "v.yaml", "updates": []}, ["updates: [] should be non-empty"]),
        (
            "yaml-update",
            {"updates": [{"key": "", "value": 1}, {"key": "b"}]},
            [
                "(root): 'path' is a required property",
                "updates.0.key: '' should be non-empty",
                "updates.1: 'value' is a required property",
            ],
        ),
        (
            "git-clone",
            {"repoURL": "https://example.com/r.git", "checkout": [{"path": "src"}], "x": 1},
            ["(root): Additional properties are not allowed ('x' was unexpected)"],
        ),
        ("compose-output", {}, ["(root): {} should be non-empty"]),
        ("fail", {"message": ""}, ["message: '' should be non-empty"]),
        ("fail", {"message": 1}, ["message: 1 is not of type 'string'"]),
        # Formats are checked as gojsonschema does: a URI needs a scheme.
        (
            "git-open-pr",
            {"repoURL": "github.com/a/b", "sourceBranch": "x", "targetBranch": "main"},
            ["repoURL: 'github.com/a/b' is not a 'uri'"],
        ),
        (
            "yaml-merge",
            {"inFiles": [], "outFile": ""},
            ["inFiles: [] should be non-empty", "outFile: '' should be non-empty"],
        ),
        (
            "yaml-merge",
            {"inFiles": ["a.yaml", 1], "outFile": "o.yaml", "strict": True},
            [
                "(root): Additional properties are not allowed ('strict' was unexpected)",
                "inFiles.1: 1 is not of type 'string'",
            ],
        ),
        (
            "helm-update-chart",
            {"charts": [{"repository": "oci://r", "name": ""}]},
            [
                "(root): 'path' is a required property",
                "charts.0: 'version' is a required property",
                "charts.0.name: '' should be non-empty",
            ],
        ),
        (
            "helm-update-chart",
            {"path": "c", "charts": [{"repository": "https://r", "name": "n", "version": 1}]},
            ["charts.0.version: 1 is not of type 'string'"],
        ),
        # $refs into argocd-common.json resolve.
        (
            "argocd-wait",
            {"apps": [{"name": "a", "selector": {"matchLabels": {}}, "bogus": 1}]},
            None,
        ),
        ("argocd-update", {"apps": []}, ["apps: [] should be non-empty"]),
        (
            "argocd-update",
            {"apps": [{"name": "a", "selector": {"matchLabels": {"a": "b"}}}]},
            [
                "apps.0: {'name': 'a', 'selector': {'matchLabels': {'a': 'b'}}} is not valid "
                "under any of the given schemas"
            ],
        ),
        (
            "argocd-update",
            {"apps": [{"name": "a", "sources": [{"repoURL": "r", "updateTargetRevision": True}]}]},
            [
                "apps.0.sources.0: {'repoURL': 'r', 'updateTargetRevision': True} is not valid "
                "under any of the given schemas"
            ],
        ),
        (
            "argocd-update",
            {
                "apps": [
                    {
                        "name": "a",
                        "sources": [
                            {
                                "repoURL": "r",
                                "kustomize": {
                                    "images": [{"repoURL": "i", "tag": "t", "digest": "d"}]
                                },
                                "helm": {"images": [{"key": "k"}]},
                            }
                        ],
                    }
                ]
            },
            [
                "apps.0.sources.0.helm.images.0: 'value' is a required property",
                "apps.0.sources.0.kustomize.images.0: {'repoURL': 'i', 'tag': 't', 'digest': 'd'} "
                "is not valid under any of the given schemas",
            ],
        ),
        (
            "argocd-wait",
            {"apps": [{"name": "a", "waitFor": ["ready"]}]},
            [
                "apps.0.waitFor.0: 'ready' is not one of ['health', 'sync', 'operation', "
                "'suspended', 'degraded']"
            ],
        ),
        (
            "argocd-wait",
            {"apps": [{"selector": {"matchLabels": {}}, "sources": []}]},
            [
                "apps.0: Additional properties are not allowed ('sources' was unexpected)",
                "apps.0.selector: {'matchLabels': {}} is not valid under any of the given schemas",
            ],
        ),
        # Valid configs.
        ("yaml-update", {"path": "v.yaml", "updates": [{"key": "a", "value": None}]}, []),
        (
            "argocd-update",
            {
                "apps": [
                    {
                        "selector": {"matchExpressions": [{"key": "env", "operator": "Exists"}]},
                        "namespace": "gitops",
                        "sources": [{"repoURL": "https://h/r.git", "desiredRevision": "abc"}],
                    }
                ]
            },
            [],
        ),
        ("argocd-wait", {"apps": [{"name": "a", "waitFor": ["health", "sync"]}]}, []),
        ("fail", {}, []),
        ("compose-output", {"anything": {"goes": [1]}}, []),
        (
            "yaml-merge",
            {"inFiles": ["a.yaml"], "outFile": "o.yaml", "ignoreMissingFiles": True},
            [],
        ),
        ("helm-update-chart", {"path": "charts/app"}, []),
        (
            "git-open-pr",
            {"repoURL": "https://github.com/a/b", "sourceBranch": "x", "targetBranch": "main"},
            [],
        ),
    ],
)
def test_schema_errors(step: str, config: dict[str, Any], errors: list[str] | None) -> None:
    found = schema_errors(step, config)
    if errors is None:
        assert found
        assert all(e.startswith("apps.0") for e in found), found
    else:
        assert found == errors


def test_validate_lists_every_error_sorted_by_path() -> None:
    with pytest.raises(TerminalStepError) as caught:
        validate_step_config("yaml-update", {"updates": [{"key": ""}], "extra": 1})
    assert str(caught.value) == (
        "invalid yaml-update config: "
        "(root): 'path' is a required property; "
        "(root): Additional properties are not allowed ('extra' was unexpected); "
        "updates.0: 'value' is a required property; "
        "updates.0.key: '' should be non-empty"
    )


def test_validate_accepts_a_valid_config() -> None:
    validate_step_config("yaml-update", {"path": "v.yaml", "updates": [{"key": "a", "value": 1}]})


def test_credentials_in_rejected_values_are_masked() -> None:
    errors = schema_errors("git-open-pr", {"repoURL": "https://me:s3cret@git.example.com", "x": 1})
    assert errors
    assert not any("s3cret" in e for e in errors)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("yaml-update", True),
        ("compose-output", True),
        ("argocd-update", True),
        ("common", False),
        ("argocd-common", False),
        ("../schemas/yaml-update", False),
        ("record", False),
    ],
)
def test_has_schema(name: str, expected: bool) -> None:
    assert has_schema(name) is expected


def test_a_step_without_schema_is_refused() -> None:
    with pytest.raises(TerminalStepError, match="no configuration schema for step kind 'nope'"):
        validate_step_config("nope", {})

"""Each built-in step's ``Config`` model accepts exactly what Kargo's schema for it accepts.

The engine checks a configuration against the schema first and the model second, so a model
laxer than its schema goes unnoticed in a promotion, and one stricter refuses what Kargo
runs. Here each model is asked alone, and the schema alone, about the same configurations:
those :mod:`tests.promotion.config_cases` derives from the schema, and the hand-written ones
below for what a schema says with ``oneOf``, ``anyOf`` and untyped values. Both must accept,
or both refuse. Kargo's schemas (v1.11.2) are the reference: a model may differ only where
``DELIBERATE`` says so and why.
"""

from typing import Any

import pytest
from pydantic import ValidationError

from kargo_dagster.promotion.builtin import BUILTIN_STEPS
from kargo_dagster.promotion.schema_validation import has_schema, schema_errors
from kargo_dagster.promotion.step import StepKind
from tests.promotion.config_cases import minimal_config, schema_cases

STEPS: dict[str, StepKind[Any]] = {
    step.name: step for step in BUILTIN_STEPS if has_schema(step.name)
}

_REPO = "https://git.example.com/acme/app.git"
_SELECTOR = {"matchLabels": {"app": "guestbook"}}

# (step, label, config): configurations the schemas constrain beyond one property at a time.
HAND_WRITTEN: list[tuple[str, str, dict[str, Any]]] = [
    # Untyped values take anything, null included.
    *(
        (step, f"value {value!r}", {"path": "f", "updates": [{"key": "a.b", "value": value}]})
        for step in ("json-update", "toml-update", "yaml-update")
        for value in (None, 1.5, False, [1], {"nested": "map"})
    ),
    (
        "set-metadata",
        "null value",
        {"updates": [{"kind": "Stage", "name": "s", "values": {"k": None}}]},
    ),
    ("set-metadata", "no values", {"updates": [{"kind": "Stage", "name": "s", "values": {}}]}),
    ("compose-output", "any outputs", {"a": None, "b": [1, {"c": True}]}),
    # delete: exactly one of path and paths.
    ("delete", "neither path nor paths", {}),
    ("delete", "both path and paths", {"path": "a", "paths": ["b"]}),
    # git-clone: at most one of branch, commit and tag per checkout.
    *(
        ("git-clone", f"checkout {refs}", {"repoURL": _REPO, "checkout": [{"path": "p", **refs}]})
        for refs in (
            {"branch": "main", "commit": "abc"},
            {"branch": "main", "tag": "v1"},
            {"commit": "abc", "tag": "v1"},
            {"branch": "", "commit": "abc"},
            {"branch": "", "commit": "", "tag": ""},
            {"branch": "main", "create": True},
        )
    ),
    # git-push: one way to name the target, and no force with a tag.
    *(
        ("git-push", f"push {target}", {"path": "p", **target})
        for target in (
            {"generateTargetBranch": True, "targetBranch": "main"},
            {"generateTargetBranch": True, "targetBranch": ""},
            {"generateTargetBranch": True, "tag": "v1"},
            {"generateTargetBranch": False, "targetBranch": "main"},
            {"targetBranch": "main", "tag": "v1"},
            {"tag": "v1", "force": True},
            {"tag": "v1", "force": False},
            {"targetBranch": "main", "force": True},
            {"generateTargetBranch": True, "force": True},
        )
    ),
    # github-push: generateTargetBranch or targetBranch, not both.
    *(
        ("github-push", f"push {target}", {"path": "p", **target})
        for target in (
            {"generateTargetBranch": True, "targetBranch": "main"},
            {"generateTargetBranch": True, "targetBranch": ""},
            {"generateTargetBranch": False, "targetBranch": "main"},
            {"generateTargetBranch": False},
        )
    ),
    # kustomize-set-image: exactly one of tag and digest.
    *(
        ("kustomize-set-image", f"image {refs}", {"path": "p", "images": [{"image": "i", **refs}]})
        for refs in (
            {},
            {"tag": "1", "digest": "sha256:abc"},
            {"tag": "", "digest": "sha256:abc"},
            {"tag": "1", "digest": ""},
            {"tag": "", "digest": ""},
        )
    ),
    # argocd-update and argocd-wait: each apps[] entry by name or by selector.
    *(
        (step, f"app {app}", {"apps": [app]})
        for step in ("argocd-update", "argocd-wait")
        for app in (
            {},
            {"namespace": "argocd"},
            {"name": "a", "selector": _SELECTOR},
            {"name": "", "selector": _SELECTOR},
            {"selector": {}},
            {"selector": {"matchLabels": {}, "matchExpressions": []}},
            {"selector": {"matchLabels": {}, "matchExpressions": [{"key": "k", "operator": "In"}]}},
            {"selector": {"matchLabels": {"a": "b"}, "matchExpressions": []}},
        )
    ),
    # argocd-update: updateTargetRevision needs desiredRevision; a tag or a digest.
    *(
        ("argocd-update", f"source {source}", {"apps": [{"name": "a", "sources": [source]}]})
        for source in (
            {"repoURL": _REPO, "updateTargetRevision": False},
            {"repoURL": _REPO, "updateTargetRevision": True, "desiredRevision": "abc"},
            {"repoURL": _REPO, "desiredRevision": "", "updateTargetRevision": False},
            {
                "repoURL": _REPO,
                "kustomize": {"images": [{"repoURL": "i", "tag": "", "digest": "d"}]},
            },
            {
                "repoURL": _REPO,
                "kustomize": {"images": [{"repoURL": "i", "tag": "t", "digest": ""}]},
            },
            {
                "repoURL": _REPO,
                "kustomize": {"images": [{"repoURL": "i", "tag": "t", "digest": "d"}]},
            },
            {"repoURL": _REPO, "kustomize": {}},
        )
    ),
    (
        "argocd-wait",
        "every condition once",
        {
            "apps": [
                {"name": "a", "waitFor": ["health", "sync", "operation", "suspended", "degraded"]}
            ]
        },
    ),
    # Durations: the schemas' pattern is unanchored, as Kargo's is.
    *(
        ("http", f"timeout {timeout!r}", {"url": "https://example.com", "timeout": timeout})
        for timeout in ("1h30m", "250ms", "2µs", "about 5m", "5", "m")
    ),
    # A JSON integer may be written with a zero fraction.
    ("untar", "stripComponents 0.0", {"inPath": "a.tgz", "outPath": "o", "stripComponents": 0.0}),
    ("untar", "stripComponents -0.5", {"inPath": "a.tgz", "outPath": "o", "stripComponents": -0.5}),
    # Format checks as the schema validator makes them.
    (
        "git-open-pr",
        "ssh URL",
        {
            "repoURL": "ssh://git@git.example.com/acme/app.git",
            "sourceBranch": "s",
            "targetBranch": "t",
        },
    ),
    (
        "git-open-pr",
        "scp-like address",
        {"repoURL": "git@git.example.com:acme/app.git", "sourceBranch": "s", "targetBranch": "t"},
    ),
]

# (step, label) -> why the model deliberately answers otherwise than the schema. None does:
# where a model differed, it was brought in line with Kargo's schema.
DELIBERATE: dict[tuple[str, str], str] = {}


def _schema_accepts(step: str, config: dict[str, Any]) -> bool:
    return not schema_errors(step, config)


def _model_accepts(step: str, config: dict[str, Any]) -> bool:
    try:
        STEPS[step].config_model.model_validate(config)
    except ValidationError:
        return False
    return True


def _cases(step: str) -> list[tuple[str, dict[str, Any]]]:
    hand = [(label, config) for name, label, config in HAND_WRITTEN if name == step]
    return [*schema_cases(step), *hand]


def test_every_builtin_step_is_covered() -> None:
    assert sorted(STEPS) == sorted(step.name for step in BUILTIN_STEPS)
    assert {step for step, _, _ in HAND_WRITTEN} <= set(STEPS)
    assert {step for step, _ in DELIBERATE} <= set(STEPS)


@pytest.mark.parametrize("step", sorted(STEPS))
def test_the_table_holds_accepted_and_refused_configs(step: str) -> None:
    assert _schema_accepts(step, minimal_config(step)), minimal_config(step)
    verdicts = {_schema_accepts(step, config) for _, config in _cases(step)}
    # A table with configurations on one side only would test little.
    assert verdicts == {True, False}


@pytest.mark.parametrize("step", sorted(STEPS))
def test_model_and_schema_agree(step: str) -> None:
    disagreements: dict[str, str] = {}
    for label, config in _cases(step):
        by_schema, by_model = _schema_accepts(step, config), _model_accepts(step, config)
        if by_schema != by_model:
            verdict = (
                "model accepts, schema refuses" if by_model else "model refuses, schema accepts"
            )
            disagreements[label] = f"{verdict}: {config!r}"
    expected = {label for name, label in DELIBERATE if name == step}
    assert {label: text for label, text in disagreements.items() if label not in expected} == {}
    # A deliberate difference that no longer shows is stale: take it out of DELIBERATE.
    assert expected <= set(disagreements)

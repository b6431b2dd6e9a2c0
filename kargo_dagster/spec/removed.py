"""Syntax Kargo removed, recognised so the error names what to write instead.

Old manifests (and tutorials) still carry these; a bare "unknown field" would leave the
reader guessing. Every message here contains :data:`REMOVED_MARKER`, which is how
:func:`is_removed_syntax` tells these problems from other mistakes.
"""

import re
from typing import Any

from pydantic import BaseModel

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.spec.locations import FieldPath
from kargo_dagster.spec.project import Project
from kargo_dagster.spec.steps import PromotionStep
from kargo_dagster.spec.warehouse import GitSubscription, ImageSubscription

__all__ = [
    "REMOVED_FIELDS",
    "REMOVED_MARKER",
    "is_removed_syntax",
    "removed_step_syntax",
]

REMOVED_MARKER = "was removed"

_TAGS_FAIL = "Kargo v1.11 fails artifact discovery when it is set"

REMOVED_FIELDS: dict[tuple[type[BaseModel], str], str] = {
    (ImageSubscription, "semverConstraint"): (
        f"semverConstraint {REMOVED_MARKER} from image subscriptions in Kargo v1.9; "
        "write constraint: <semver range> instead"
    ),
    (ImageSubscription, "allowTags"): (
        f"allowTags {REMOVED_MARKER} ({_TAGS_FAIL}); write allowTagsRegexes: ['<regex>'] instead"
    ),
    (ImageSubscription, "ignoreTags"): (
        f"ignoreTags {REMOVED_MARKER} ({_TAGS_FAIL}); write ignoreTagsRegexes: ['^<tag>$', ...] "
        "instead"
    ),
    (GitSubscription, "allowTags"): (
        f"allowTags {REMOVED_MARKER} ({_TAGS_FAIL}); write allowTagsRegexes: ['<regex>'] instead"
    ),
    (GitSubscription, "ignoreTags"): (
        f"ignoreTags {REMOVED_MARKER} ({_TAGS_FAIL}); write ignoreTagsRegexes: ['^<tag>$', ...] "
        "instead"
    ),
    (Project, "spec"): (
        f"Project spec {REMOVED_MARKER} in Kargo v1.7; move promotionPolicies to a ProjectConfig "
        "with the Project's name, in the Project's namespace"
    ),
}
"""Removed fields, keyed by the model that no longer has them and the YAML key."""

# `outputs.<alias>.prNumber`, `outputs['<alias>'].prNumber` and the `task.outputs` forms.
_PR_NUMBER = re.compile(
    r"(?P<task>task\s*\.\s*)?outputs\s*"
    r"(?:\.\s*(?P<dotted>[\w-]+)|\[\s*['\"](?P<quoted>[^'\"]+)['\"]\s*\])"
    r"\s*(?:\.\s*prNumber\b|\[\s*['\"]prNumber['\"]\s*\])"
)


def is_removed_syntax(problem: ManifestProblem) -> bool:
    """Whether a problem is about syntax Kargo removed (rather than a plain mistake)."""
    return REMOVED_MARKER in problem.message


def removed_step_syntax(steps: list[PromotionStep], base: FieldPath) -> list[tuple[FieldPath, str]]:
    """Finds removed syntax in one list of steps (a Stage template or a task).

    Args:
        steps: The steps.
        base: Field path of the list (``("spec", "steps")``).

    Returns:
        ``(field path, message)`` pairs, in step order.
    """
    found: list[tuple[FieldPath, str]] = []
    open_pr_aliases = {step.as_ for step in steps if step.uses == "git-open-pr" and step.as_}
    for index, step in enumerate(steps):
        path = (*base, index)
        if step.config is not None:
            found.extend(_from_step_fields(step.config, (*path, "config")))
        texts: list[tuple[FieldPath, str]] = []
        if step.if_:
            texts.append(((*path, "if"), step.if_))
        for var_index, var in enumerate(step.vars):
            if var.value:
                texts.append(((*path, "vars", var_index, "value"), var.value))
        if step.config is not None:
            texts.extend(_strings(step.config, (*path, "config")))
        for text_path, text in texts:
            for match in _PR_NUMBER.finditer(text):
                alias = match.group("dotted") or match.group("quoted")
                if alias in open_pr_aliases:
                    prefix = "task.outputs" if match.group("task") else "outputs"
                    found.append((text_path, _pr_number_message(prefix, alias)))
    return found


def _pr_number_message(prefix: str, alias: str) -> str:
    return (
        f"the git-open-pr output prNumber {REMOVED_MARKER}; read the pull request number as "
        f"${{{{ {prefix}['{alias}'].pr.id }}}} instead"
    )


def _from_step_fields(node: Any, path: FieldPath) -> list[tuple[FieldPath, str]]:
    found: list[tuple[FieldPath, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            child = (*path, key)
            if key == "messageFromSteps":
                found.append(
                    (
                        child,
                        f"messageFromSteps {REMOVED_MARKER}; write message: "
                        "${{ outputs.<alias>.commitMessage }} instead",
                    )
                )
            elif isinstance(key, str) and key.endswith("FromStep"):
                target = key.removesuffix("FromStep")
                found.append(
                    (
                        child,
                        f"{key} {REMOVED_MARKER}; write {target}: "
                        "${{ outputs.<alias>.<output> }} instead",
                    )
                )
            else:
                found.extend(_from_step_fields(value, child))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_from_step_fields(value, (*path, index)))
    return found


def _strings(node: Any, path: FieldPath) -> list[tuple[FieldPath, str]]:
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in _strings(value, (*path, key))]
    if isinstance(node, list):
        return [item for i, value in enumerate(node) for item in _strings(value, (*path, i))]
    return []

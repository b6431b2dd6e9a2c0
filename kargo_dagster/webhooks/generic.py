"""Generic receivers: any POST to the receiver's URL runs its ``actions``.

The request is exposed to expressions as Kargo exposes it: ``request.header(name)``,
``request.headers(name)`` (every value), ``request.body`` (the parsed JSON body) and
``request.params(name)`` (query parameters), with ``normalizeGit``, ``normalizeImage`` and
``normalizeChart``, and each action's ``parameters`` as ``params``. An action runs when its
``whenExpression`` (a plain expression) is true; it refreshes the Warehouses every one of its
selection criteria selects: by ``name`` and ``labelSelector`` (templates over the request),
and by ``indexSelector`` on ``subscribedURLs``: in the receiver's Project, or for a
ClusterConfig receiver in every Project.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kargo_dagster.autopromotion import selector_matches
from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import evaluate, evaluate_template
from kargo_dagster.spec import ProjectManifests
from kargo_dagster.spec.project import (
    GenericReceiver,
    GenericTargetSelection,
    GenericWebhookAction,
    LabelSelectorRequirement,
    PromotionPolicySelector,
    ReceiverSecret,
)
from kargo_dagster.urls import normalize_chart_repo_url, normalize_git_url, normalize_image_repo_url
from kargo_dagster.webhooks.inbound import (
    GenericActions,
    InboundRequest,
    Outcome,
    Provider,
)
from kargo_dagster.webhooks.targets import SubscriptionIndex, WarehouseRef

__all__ = ["PROVIDER", "ActionResult", "run_actions"]


@dataclass(frozen=True)
class ActionResult:
    """What one action did, in the shape of Kargo's response.

    Attributes:
        action: The action (``Refresh``).
        matched: Whether its ``whenExpression`` held.
        result: ``Success``, ``NotApplicable`` or ``Error``.
        summary: The result in words.
        targets: The Warehouses selected for refreshing, as ``(project, name)``.
    """

    action: GenericWebhookAction
    matched: bool
    result: str
    summary: str
    targets: tuple[WarehouseRef, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The result as Kargo's response lists it."""
        return {
            **self.action.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True),
            "matchedWhenExpression": self.matched,
            "selectedTargets": [
                {"namespace": project, "name": name, "success": True}
                for project, name in self.targets
            ],
            "result": self.result,
            "summary": self.summary,
        }


def handle(request: InboundRequest, secret: str, details: ReceiverSecret) -> Outcome:
    """Read one request to a generic receiver (the URL was its secret)."""
    body = request.json() if request.body.strip() else None
    variables = {
        "normalizeGit": normalize_git_url,
        "normalizeImage": normalize_image_repo_url,
        "normalizeChart": normalize_chart_repo_url,
        "request": {
            "header": request.header,
            "headers": lambda name: list(request.header_lists.get(name.lower(), ())),
            "body": body,
            "params": lambda name: request.query.get(name, ""),
        },
    }
    return GenericActions(variables)


def run_actions(
    receiver: GenericReceiver,
    variables: Mapping[str, Any],
    projects: Iterable[ProjectManifests],
    index: SubscriptionIndex,
) -> list[ActionResult]:
    """Evaluate every action of ``receiver`` against the request's ``variables``, selecting
    Warehouses in ``projects`` (the receiver's Project, or every one for a ClusterConfig
    receiver)."""
    scope = tuple(projects)
    return [_run(action, variables, scope, index) for action in receiver.actions]


def _run(
    action: GenericWebhookAction,
    variables: Mapping[str, Any],
    projects: tuple[ProjectManifests, ...],
    index: SubscriptionIndex,
) -> ActionResult:
    env = {**variables, "params": dict(action.parameters)}
    try:
        met = _holds(action.when_expression, env)
    except ExpressionError:
        return ActionResult(action, False, "Error", "Error evaluating whenExpression")
    if not met:
        return ActionResult(action, False, "NotApplicable", "Request did not match whenExpression")
    try:
        chosen: set[WarehouseRef] = set()
        for criteria in action.target_selection_criteria:
            for project in projects:
                chosen.update((project.name, n) for n in _select(criteria, env, project, index))
    except (ExpressionError, _Unselectable):
        return ActionResult(action, True, "Error", "Error evaluating targetSelectionCriteria")
    targets = tuple(sorted(chosen))
    summary = f"Refreshed {len(targets)} of {len(targets)} selected resources"
    return ActionResult(action, True, "Success", summary, targets)


class _Unselectable(Exception):
    """A criterion Kargo cannot evaluate for Warehouses (an index it does not keep)."""


def _select(
    criteria: GenericTargetSelection,
    env: Mapping[str, Any],
    project: ProjectManifests,
    index: SubscriptionIndex,
) -> list[str]:
    names = list(project.warehouses)
    if criteria.index_selector is not None:
        for requirement in criteria.index_selector.match_indices:
            if requirement.key != "subscribedURLs":
                raise _Unselectable(requirement.key)
            value = _string(requirement.value, env)
            wanted = requirement.operator == "Equal"
            names = [
                n for n in names if (value in index.subscribed_urls(project.name, n)) == wanted
            ]
    if criteria.label_selector is not None:
        labels = criteria.label_selector
        selector = PromotionPolicySelector(
            match_labels={k: _string(v, env) for k, v in labels.match_labels.items()},
            match_expressions=[
                LabelSelectorRequirement(
                    key=r.key, operator=r.operator, values=[_string(v, env) for v in r.values]
                )
                for r in labels.match_expressions
            ],
        )
        names = [
            n for n in names if selector_matches(selector, n, project.warehouses[n].metadata.labels)
        ]
    if criteria.name:
        name = _string(criteria.name, env)
        names = [n for n in names if n == name]
    return names


def _holds(expression: str | None, env: Mapping[str, Any]) -> bool:
    if not expression:
        return True
    result = evaluate(expression, env)
    if not isinstance(result, bool):
        raise ExpressionError(f"whenExpression gave a {type(result).__name__}, not a bool")
    return result


def _string(template: str, env: Mapping[str, Any]) -> str:
    value = evaluate_template(template, env)
    if not isinstance(value, str):
        raise ExpressionError(f"{template!r} gave a {type(value).__name__}, not a string")
    return value


PROVIDER = Provider(kind="generic", secret_key="secret", handle=handle)

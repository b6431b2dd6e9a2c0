"""What ``argocd-update`` and ``argocd-wait`` share: the connection, finding Applications by
name or label selector (as Kargo does, in the connection's default namespace unless the step
names one), and turning Argo CD failures into step errors.

Messages follow Kargo's (``unable to find Argo CD Application "x" in namespace "y"``), Go's
``%q`` quoting included.
"""

import json
from typing import Any, Literal

from pydantic import Field, model_validator

from kargo_dagster.clients.argocd.applications import (
    ArgoCDApplications,
    ArgoCDError,
    label_selector,
)
from kargo_dagster.errors import RetryableStepError, StepError, TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext

__all__ = [
    "OPERATION_COMPLETED",
    "AppSelector",
    "MatchExpression",
    "app_key",
    "app_ref",
    "argocd_connection",
    "check_name_or_selector",
    "find_application",
    "go_quote",
    "list_applications",
    "step_error",
]

# Argo CD's completed operation phases (``OperationPhase.Completed``).
OPERATION_COMPLETED = frozenset({"Succeeded", "Failed", "Error"})


class MatchExpression(StepConfig):
    """One ``matchExpressions`` requirement of a label selector."""

    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class AppSelector(StepConfig):
    """Selects Applications by their labels (Kargo's ``argoCDAppSelector``)."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[MatchExpression] | None = None

    @model_validator(mode="after")
    def _selects_something(self) -> "AppSelector":
        # An empty selector would match every Application in the namespace.
        if not self.match_labels and not self.match_expressions:
            raise ValueError("needs at least one of matchLabels or matchExpressions")
        return self

    def selector(self) -> str:
        """The selector in the API's string form.

        Raises:
            TerminalStepError: The selector is not a valid Kubernetes label selector.
        """
        try:
            return label_selector(
                self.match_labels,
                [(e.key, e.operator, e.values or []) for e in self.match_expressions or []],
            )
        except ValueError as error:
            raise TerminalStepError(f"error building label selector: {error}") from None


def check_name_or_selector(name: str | None, selector: AppSelector | None) -> None:
    """Refuse an ``apps[]`` entry that does not pick Applications one way: by name or selector.

    Raises:
        ValueError: Both or neither are given.
    """
    if (name is None) == (selector is None):
        raise ValueError("exactly one of name or selector is required")


def go_quote(text: str) -> str:
    """``text`` double-quoted as Go's ``%q`` writes it (for the names in messages)."""
    return json.dumps(text, ensure_ascii=False)


def argocd_connection(ctx: StepContext, step: str) -> ArgoCDApplications:
    """The step's Argo CD connection.

    Raises:
        TerminalStepError: None is configured; the message says how to configure one.
    """
    if ctx.argocd is None:
        raise TerminalStepError(
            f"the {step} step needs a connection to Argo CD, and this promotion was given "
            "none: pass PromotionServices(argocd=...) when running promotions directly"
        )
    return ctx.argocd


def step_error(error: ArgoCDError, context: str) -> StepError:
    """The step error for a failed Argo CD request: retryable when asking again may help."""
    message = f"{context}: {error}" if context else str(error)
    if error.retryable:
        return RetryableStepError(message, retry_after=error.retry_after or 0.0)
    return TerminalStepError(message)


def find_application(apps: ArgoCDApplications, namespace: str, name: str) -> dict[str, Any]:
    """The Application called ``name``.

    Raises:
        RetryableStepError: It does not exist (it may yet be created, as by an
            ApplicationSet), or the API could not be asked.
        TerminalStepError: The API refused in a way retrying will not fix.
    """
    where = f"Argo CD Application {go_quote(name)} in namespace {go_quote(namespace)}"
    try:
        app = apps.get(namespace, name)
    except ArgoCDError as error:
        raise step_error(error, f"error finding {where}") from None
    if app is None:
        raise RetryableStepError(f"unable to find {where}")
    return app


def list_applications(
    apps: ArgoCDApplications, namespace: str, selector: AppSelector
) -> list[dict[str, Any]]:
    """The Applications in ``namespace`` that ``selector`` matches (maybe none).

    Raises:
        TerminalStepError: The selector is invalid, or the API refused for good.
        RetryableStepError: The API could not be asked.
    """
    query = selector.selector()
    try:
        return apps.list(namespace, query)
    except ArgoCDError as error:
        raise step_error(error, "error listing Argo CD Applications matching selector") from None


def app_ref(app: dict[str, Any]) -> dict[str, str]:
    """``{name, namespace}`` of an Application, the form Kargo reports Applications in."""
    meta = app.get("metadata") or {}
    return {"name": str(meta.get("name", "")), "namespace": str(meta.get("namespace", ""))}


def app_key(app: dict[str, Any]) -> str:
    """``namespace/name`` of an Application."""
    ref = app_ref(app)
    return f"{ref['namespace']}/{ref['name']}"

"""The health criteria ``argocd-update`` registers for a Stage, and reading them back.

After a successful promotion the step records which Applications it synced and, per source,
the revision each should now be at: ``{"kind": "argocd-update", "apps": [{name, namespace,
desiredRevisions}]}`` (Kargo's ``HealthCheckStep``). Kargo's own Promotions record the same
as ``{"uses", "config"}``; :func:`parse_criterion` accepts both and explains, in Kargo's
words, why a criterion cannot be checked.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from kargo_dagster.verification.argocd_app_status import go_quote

__all__ = [
    "ARGOCD_HEALTH_CHECK_KIND",
    "AppHealthCheck",
    "HealthCriterion",
    "criteria_list",
    "parse_criterion",
]

ARGOCD_HEALTH_CHECK_KIND = "argocd-update"


class AppHealthCheck(BaseModel):
    """One Application of a health criterion.

    Attributes:
        name: The Application's name.
        namespace: Its namespace; empty means the default Argo CD namespace.
        desired_revisions: Per source of the Application (``spec.sources``, or the single
            ``spec.source``), the revision it should be synced to; empty entries mean "any".
    """

    # Unknown keys are ignored, as Kargo's JSON decoding ignores them.
    model_config = ConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, alias_generator=to_camel
    )

    name: str
    namespace: str = ""
    desired_revisions: tuple[str, ...] = ()

    @field_validator("desired_revisions", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        # The criterion is JSON written by Kargo or by argocd-update: null means none.
        return () if value is None else value


class HealthCriterion(BaseModel):
    """The health check a promotion step registered (Kargo's ``HealthCheckStep``).

    Attributes:
        kind: Which checker evaluates it; only ``argocd-update`` is known.
        apps: The Applications to check.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: str = ARGOCD_HEALTH_CHECK_KIND
    apps: tuple[AppHealthCheck, ...] = ()

    @field_validator("apps", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return () if value is None else value


def parse_criterion(
    raw: HealthCriterion | Mapping[str, Any],
) -> tuple[HealthCriterion | None, str]:
    """The criterion, or None and the issue explaining why it cannot be checked."""
    if isinstance(raw, HealthCriterion):
        criterion = raw
    else:
        if "uses" in raw:
            kind, data = raw.get("uses"), raw.get("config") or {}
        else:
            kind = raw.get("kind", ARGOCD_HEALTH_CHECK_KIND)
            data = {k: v for k, v in raw.items() if k != "kind"}
        if kind != ARGOCD_HEALTH_CHECK_KIND:
            return None, (
                f"no health checker registered for health check kind {go_quote(str(kind))}"
            )
        try:
            criterion = HealthCriterion.model_validate({**data, "kind": kind})
        except ValidationError as error:
            return None, (
                f"could not convert opaque input into {ARGOCD_HEALTH_CHECK_KIND} health check "
                f"input: {_validation_message(error)}"
            )
    if criterion.kind != ARGOCD_HEALTH_CHECK_KIND:
        return None, (
            f"no health checker registered for health check kind {go_quote(criterion.kind)}"
        )
    return criterion, ""


def criteria_list(
    criteria: HealthCriterion | Mapping[str, Any] | Sequence[HealthCriterion | Mapping[str, Any]],
) -> list[HealthCriterion | Mapping[str, Any]]:
    """One criterion or several, as a list."""
    if isinstance(criteria, HealthCriterion | Mapping):
        return [criteria]
    return list(criteria)


def _validation_message(error: ValidationError) -> str:
    """Pydantic's errors on one line, each with the field path (values are not repeated)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or '(input)'}: {e['msg']}"
        for e in error.errors(include_url=False, include_input=False)
    )

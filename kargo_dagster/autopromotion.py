"""Kargo's auto-promotion rules over plain facts: which Stages, which Freight, and when not.

A ProjectConfig's ``promotionPolicies`` say which Stages promote by themselves: the first
policy whose selector matches the Stage decides (an exact name, ``glob:`` or
``regex:``/``regexp:`` pattern, and the Stage's labels through ``matchLabels`` and
``matchExpressions``, all of which must hold), and ``autoPromotionEnabled`` is off unless a
policy turns it on.

For an enabled Stage the candidate is the newest Freight available to it (``NewestFreight``)
or, with ``MatchUpstream``, the Freight its one upstream Stage holds, if that is available.
:func:`decide` then says whether to promote it now, and if not, why:

* the candidate is already current in the Stage;
* a promotion into the Stage is queued or running (the next tick looks again);
* the candidate's last promotion into the Stage failed: it is not retried in a loop, a person
  promotes it again (or newer Freight arrives);
* the Stage is on hold: someone promoted other Freight by hand (a manual promotion or a
  rollback of anything but the candidate), and auto-promotion leaves that choice alone until
  the candidate is promoted again or the hold is lifted.

Only the newest candidate counts, so two Freight arriving between ticks promote only the
newer one.
"""

import fnmatch
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from kargo_dagster.spec import PromotionPolicy, PromotionPolicySelector, Stage

__all__ = ["AutoPromotionDecision", "auto_promotion_enabled", "decide", "selector_matches"]


def selector_matches(
    selector: PromotionPolicySelector, name: str, labels: Mapping[str, str]
) -> bool:
    """Whether a promotion policy's selector selects the Stage ``name`` with ``labels``."""
    if selector.name and not _name_matches(selector.name, name):
        return False
    if any(labels.get(key) != value for key, value in selector.match_labels.items()):
        return False
    for requirement in selector.match_expressions:
        present = requirement.key in labels
        value = labels.get(requirement.key)
        if requirement.operator == "In" and value not in requirement.values:
            return False
        if requirement.operator == "NotIn" and present and value in requirement.values:
            return False
        if requirement.operator == "Exists" and not present:
            return False
        if requirement.operator == "DoesNotExist" and present:
            return False
    return True


def auto_promotion_enabled(stage: Stage, policies: Sequence[PromotionPolicy]) -> bool:
    """Whether the first policy selecting ``stage`` enables auto-promotion (False if none)."""
    name = stage.metadata.name
    labels = stage.metadata.labels or {}
    for policy in policies:
        if policy.stage is not None:
            matched = policy.stage == name
        else:
            assert policy.stage_selector is not None
            matched = selector_matches(policy.stage_selector, name, labels)
        if matched:
            return policy.auto_promotion_enabled
    return False


def _name_matches(pattern: str, name: str) -> bool:
    prefix, _, body = pattern.partition(":")
    if prefix == "glob" and body:
        return fnmatch.fnmatchcase(name, body)
    if prefix in ("regex", "regexp") and body:
        return re.search(body, name) is not None
    return pattern == name


@dataclass(frozen=True)
class AutoPromotionDecision:
    """Whether to promote, and what.

    Attributes:
        freight: The Freight to promote now, or None.
        reason: Why not, for the sensor's log (empty when promoting).
    """

    freight: str | None
    reason: str = ""


def decide(
    *,
    stage: str,
    candidate: str | None,
    current: str | None,
    in_flight: Collection[str],
    candidate_failed: bool,
    held_for: str | None,
) -> AutoPromotionDecision:
    """Kargo's auto-promotion choice for one Stage (see the module docstring).

    Args:
        stage: The Stage, for the reasons.
        candidate: The Freight auto-promotion would pick, or None.
        current: The Freight the Stage holds now, or None.
        in_flight: Freight whose promotion into the Stage is queued or running.
        candidate_failed: Whether the candidate's latest promotion into the Stage failed.
        held_for: The Freight a manual promotion put the Stage on hold with, or None.
    """
    if candidate is None:
        return AutoPromotionDecision(None, f"no Freight is available to Stage {stage}")
    if candidate == current:
        return AutoPromotionDecision(None, f"Stage {stage} already has {candidate}")
    if in_flight:
        return AutoPromotionDecision(
            None, f"a promotion into Stage {stage} ({', '.join(sorted(in_flight))}) is under way"
        )
    if held_for is not None:
        return AutoPromotionDecision(
            None,
            f"Stage {stage} is on hold: {held_for} was promoted by hand; promote {candidate} "
            "or lift the hold (kargo-dagster hold --lift) to resume auto-promotion",
        )
    if candidate_failed:
        return AutoPromotionDecision(
            None,
            f"the last promotion of {candidate} into Stage {stage} failed; it is not retried "
            "automatically",
        )
    return AutoPromotionDecision(candidate)

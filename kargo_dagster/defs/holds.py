"""Auto-promotion holds: a person's choice of Freight that auto-promotion leaves alone.

When someone promotes Freight into an auto-promoted Stage by hand (or rolls it back) and that
Freight is not the one auto-promotion would pick, the promotion sensor places a hold, so the
next tick does not undo the choice. The hold ends when the Stage is promoted again (the
candidate by hand, or anything by a later promotion that is itself judged afresh), or when
someone lifts it (``kargo-dagster hold --lift``). Holds and lifts are runless observations on
the Stage's partition for the held Freight, with the actor and the reason, so they appear in
the asset's history beside the promotions.
"""

from dataclasses import dataclass

import dagster as dg

from kargo_dagster.defs.instance_queries import current_freight
from kargo_dagster.defs.names import META_ACTOR

__all__ = ["META_HOLD", "Hold", "current_hold", "decided_since", "lift_hold", "place_hold"]

META_HOLD = "kargo/hold"
_META_REASON = "kargo/hold-reason"
# Enough observations to pass a Stage's approvals and find its latest hold decision.
_LOOKBACK = 200


@dataclass(frozen=True)
class Hold:
    """A Stage on hold: the Freight held, why, by whom and when (epoch seconds)."""

    freight: str
    reason: str
    actor: str
    since: float


def place_hold(
    instance: dg.DagsterInstance, stage: dg.AssetKey, freight: str, *, reason: str, actor: str
) -> None:
    """Put ``stage`` on hold with ``freight``."""
    _record(instance, stage, freight, held=True, reason=reason, actor=actor)


def lift_hold(instance: dg.DagsterInstance, stage: dg.AssetKey, *, actor: str) -> Hold | None:
    """Lift the hold on ``stage``; the hold that was lifted, or None when there was none."""
    hold = current_hold(instance, stage)
    if hold is not None:
        _record(instance, stage, hold.freight, held=False, reason="lifted", actor=actor)
    return hold


def current_hold(instance: dg.DagsterInstance, stage: dg.AssetKey) -> Hold | None:
    """The hold on ``stage``, if its latest hold decision placed one after the last promotion."""
    record = _latest_decision(instance, stage)
    if record is None or record.asset_observation is None:
        return None
    metadata = record.asset_observation.metadata
    if getattr(metadata[META_HOLD], "value", None) is not True:
        return None
    current = current_freight(instance, stage)
    if current is not None and current.since > record.timestamp:
        return None
    return Hold(
        freight=str(record.partition_key),
        reason=_text(metadata.get(_META_REASON)),
        actor=_text(metadata.get(META_ACTOR)),
        since=record.timestamp,
    )


def decided_since(instance: dg.DagsterInstance, stage: dg.AssetKey, since: float) -> bool:
    """Whether a hold was placed or lifted on ``stage`` after ``since`` (epoch seconds)."""
    record = _latest_decision(instance, stage)
    return record is not None and record.timestamp > since


def _latest_decision(instance: dg.DagsterInstance, stage: dg.AssetKey) -> dg.EventLogRecord | None:
    # The newest observation carrying a hold decision (approvals share the Stage's history).
    for record in instance.fetch_observations(stage, limit=_LOOKBACK).records:
        observation = record.asset_observation
        if observation is not None and META_HOLD in observation.metadata:
            return record
    return None


def _record(
    instance: dg.DagsterInstance,
    stage: dg.AssetKey,
    freight: str,
    *,
    held: bool,
    reason: str,
    actor: str,
) -> None:
    instance.report_runless_asset_event(
        dg.AssetObservation(
            asset_key=stage,
            partition=freight,
            metadata={META_HOLD: held, _META_REASON: reason, META_ACTOR: actor},
        )
    )


def _text(value: object) -> str:
    return str(getattr(value, "value", value) or "")

"""Auto-promotion holds: a person's choice of Freight that auto-promotion leaves alone.

When someone promotes Freight into an auto-promoted Stage by hand (or rolls it back) and that
Freight is not the one auto-promotion would pick, the promotion sensor places a hold, so the
next tick does not undo the choice. The hold ends when the Stage is promoted again (the
candidate by hand, or anything by a later promotion that is itself judged afresh), or when
someone lifts it (``kargo-dagster hold --lift``). Holds and lifts are runless observations on
the Stage's partition for the held Freight, with the actor and the reason, so they appear in
the asset's history beside the promotions. The sensor reads them through
:class:`~kargo_dagster.defs.pipeline_state.PipelineState`; :func:`current_hold` reads one
Stage's.
"""

import dagster as dg

from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.names import META_ACTOR, META_HOLD, META_HOLD_REASON
from kargo_dagster.defs.state_records import Hold, hold_decisions_from

__all__ = ["META_HOLD", "Hold", "current_hold", "lift_hold", "place_hold"]


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
    """The hold on ``stage``, if its latest hold decision placed one after its last promotion."""
    with storage_session(instance) as session:
        current = session.latest_materializations([stage]).get(stage)
        if current is None:
            return None
        observations = session.observations([stage], after_id=current.storage_id)
    decision = hold_decisions_from(observations, {stage: current.storage_id}).get(stage)
    return decision.hold if decision is not None and decision.held else None


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
            metadata={META_HOLD: held, META_HOLD_REASON: reason, META_ACTOR: actor},
        )
    )

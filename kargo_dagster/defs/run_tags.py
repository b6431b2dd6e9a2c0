"""The Kargo tags every promotion run carries (DESIGN.md §1).

Launchers that know them (the command line, sensors) set them; a run launched from the UI or
a backfill gets them from the Stage asset when it starts. A run that promotes several Stages
lists them all in ``kargo/stage``.
"""

from collections.abc import Mapping

from kargo_dagster.defs.names import (
    TAG_ACTION,
    TAG_ACTOR,
    TAG_BACKFILL,
    TAG_FREIGHT,
    TAG_OUTCOME,
    TAG_PROJECT,
    TAG_REASON,
    TAG_SENSOR,
    TAG_STAGE,
    TAG_USER,
    Action,
    auto_promotion_sensor_name,
)
from kargo_dagster.protection import Actor

ACTION_PROMOTE = Action.PROMOTE.value
# Who launched a run from the UI where nobody signs in.
UNSIGNED_UI = "dagster-ui"


def actor(run_tags: Mapping[str, str]) -> str:
    """Who launched the run: the ``kargo/actor`` tag, else the UI's signed-in user, else the
    sensor or backfill, else ``dagster-ui`` (a run without any of these tags was launched
    from the UI, where nobody signs in)."""
    if run_tags.get(TAG_ACTOR):
        return run_tags[TAG_ACTOR]
    if run_tags.get(TAG_USER):
        return run_tags[TAG_USER]
    if run_tags.get(TAG_SENSOR):
        return f"sensor:{run_tags[TAG_SENSOR]}"
    if run_tags.get(TAG_BACKFILL):
        return f"backfill:{run_tags[TAG_BACKFILL]}"
    return UNSIGNED_UI


def actor_of(run_tags: Mapping[str, str]) -> Actor:
    """Who launched the run (see :func:`actor`), and whether Dagster authenticated that name:
    only the UI's signed-in user is; a ``kargo/actor`` that names someone else, as the
    command line's ``--actor`` or login name does, is self-declared."""
    name = actor(run_tags)
    user = run_tags.get(TAG_USER)
    return Actor(name, authenticated=bool(user) and name == user)


def shown_actor(run_tags: Mapping[str, str]) -> str:
    """The run's actor as the audit trail shows it: a person's name that Dagster did not
    authenticate is marked ``self-declared:<name>``; sensors, backfills and the unsigned UI are
    named as such, not people."""
    who = actor_of(run_tags)
    return who.name if run_tags.get(TAG_SENSOR) else shown_name(who)


def shown_name(who: Actor) -> str:
    """``who`` as the audit trail shows it: marked when a person's name is self-declared;
    the unsigned UI, sensors and backfills are no person and stay as they are."""
    if (
        who.authenticated
        or who.name == UNSIGNED_UI
        or who.name.startswith(("sensor:", "backfill:"))
    ):
        return who.name
    return str(who)


def auto_promoted(run_tags: Mapping[str, str], project: str) -> bool:
    """Whether the Project's auto-promotion sensor launched the run (no person did)."""
    return run_tags.get(TAG_SENSOR) == auto_promotion_sensor_name(project)


def promotion_tags(
    run_tags: Mapping[str, str], *, project: str, stage: str, freight: str
) -> dict[str, str]:
    """The Kargo tags the run should carry once it promotes ``freight`` into ``stage``."""
    stages = {s for s in run_tags.get(TAG_STAGE, "").split(",") if s} | {stage}
    return {
        TAG_PROJECT: project,
        TAG_STAGE: ",".join(sorted(stages)),
        TAG_FREIGHT: freight,
        TAG_ACTION: run_tags.get(TAG_ACTION) or ACTION_PROMOTE,
        TAG_ACTOR: actor(run_tags),
    }


def reason_tags(reason: str, outcome: str | None = None) -> dict[str, str]:
    """The tags that say why a run changed nothing or failed: its one-line ``reason`` and,
    for a run that changed nothing, its ``outcome`` (``refused``, ``superseded``)."""
    tags = {TAG_REASON: one_line(reason)}
    if outcome is not None:
        tags[TAG_OUTCOME] = outcome
    return tags


def one_line(text: str, limit: int = 400) -> str:
    """``text``'s first line, cut at ``limit`` characters: what a run's tag shows."""
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"

"""Protected Stages: who may approve Freight for a Stage, and who may promote into it by hand.

A Stage annotated ``kargo-dagster.io/approvers`` or ``kargo-dagster.io/promoters`` (user names,
as Dagster's authentication names them, and ``group:<name>`` entries naming groups the
deployment defines; separated by commas or spaces) is protected for that action: only a
listed person whom Dagster authenticated may do it. A name given on the command
line (``--actor``, the login name) or in a hand-set run tag is *self-declared*: anyone can
claim it, so it never satisfies a protected Stage, and the audit trail marks it as such.

Auto-promotion is not a manual promotion: the Project's ``promotionPolicies`` decide it, as in
Kargo. Nothing here stops someone who can write to the Dagster instance's database or run
code in the code location; the README's trust model says who can.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "APPROVERS_ANNOTATION",
    "GROUP_PREFIX",
    "PROMOTERS_ANNOTATION",
    "Actor",
    "listed_people",
    "refusal",
]

APPROVERS_ANNOTATION = "kargo-dagster.io/approvers"
PROMOTERS_ANNOTATION = "kargo-dagster.io/promoters"

GROUP_PREFIX = "group:"

_VERBS = {APPROVERS_ANNOTATION: "approve Freight for", PROMOTERS_ANNOTATION: "promote into"}


@dataclass(frozen=True)
class Actor:
    """Who acts, and whether Dagster authenticated that name (else it is self-declared)."""

    name: str
    authenticated: bool

    def __str__(self) -> str:
        # Shaped like the other names that are not an authenticated person (sensor:<name>,
        # backfill:<id>), so it reads the same inside parentheses and tables.
        return self.name if self.authenticated else f"self-declared:{self.name}"


def listed_people(annotations: Mapping[str, str], annotation: str) -> tuple[str, ...] | None:
    """The people an annotation lists, None when the Stage does not carry it."""
    raw = annotations.get(annotation)
    if raw is None:
        return None
    return tuple(name for name in raw.replace(",", " ").split() if name)


def refusal(
    stage: str,
    annotations: Mapping[str, str],
    annotation: str,
    actor: Actor,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> str | None:
    """Why ``actor`` may not do what ``annotation`` protects in ``stage``; None if they may.

    ``groups`` gives the members of each group a ``group:<name>`` entry names; a group it
    does not define has no members.
    """
    people = listed_people(annotations, annotation)
    if people is None:
        return None
    verb = _VERBS[annotation]
    if not people:
        return f"Stage {stage} is protected ({annotation}) and lists nobody: nobody may {verb} it"
    listed = ", ".join(people)
    if not actor.authenticated:
        return (
            f"Stage {stage} is protected ({annotation}): only people signed in to Dagster and "
            f"listed there ({listed}) may {verb} it, and {actor.name!r} is self-declared; do "
            "it from the Dagster UI, signed in"
        )
    if actor.name not in _members(people, groups or {}):
        return (
            f"Stage {stage} is protected ({annotation}): only {listed} may {verb} it, not "
            f"{actor.name}"
        )
    return None


def _members(people: Sequence[str], groups: Mapping[str, Sequence[str]]) -> set[str]:
    named = {entry for entry in people if not entry.startswith(GROUP_PREFIX)}
    for entry in people:
        if entry.startswith(GROUP_PREFIX):
            named.update(groups.get(entry.removeprefix(GROUP_PREFIX), ()))
    return named

"""The markdown summary on each Stage materialization: the promotion as a person reads it.

What was promoted (the Freight, its artifacts), by whom and how (``promote``,
``auto-promote``, ``rollback``), why it was allowed, what each step did and the commits it
pushed: the Stage's latest materialization then answers "what is running here, and how did
it get there" without opening the run.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from kargo_dagster.defs.names import Action
from kargo_dagster.freight import Freight

__all__ = ["promotion_summary"]


def promotion_summary(
    *,
    stage: str,
    freight: Freight,
    action: str,
    actor: str,
    availability: str,
    steps: Sequence[Mapping[str, Any]] = (),
    commits: Mapping[str, str] | None = None,
    partition_key: str | None = None,
) -> str:
    """The summary: a heading, who and why, the artifacts, the steps and the commits.

    Args:
        stage: The Stage promoted into.
        freight: The Freight promoted.
        action: ``promote``, ``auto-promote`` or ``rollback``.
        actor: Who asked.
        availability: Why the Freight was available to the Stage.
        steps: One mapping per step with ``alias``, ``uses``, ``status`` and ``message``.
        commits: Commit links by step alias.
        partition_key: The promoted partition; default ``freight.partition_key``. Freight
            recorded before keys showed versions is keyed by its alias instead.
    """
    verbs: dict[str, str] = {Action.ROLLBACK: "Rolled back", Action.AUTO_PROMOTE: "Auto-promoted"}
    verb = verbs.get(action, "Promoted")
    lines = [
        f"### {verb} {partition_key or freight.partition_key} into {stage}",
        "",
        f"By **{_cell(actor)}** ({_cell(action)}). {_cell(availability)}.",
        "",
        "| Artifact | Version |",
        "|---|---|",
    ]
    lines.extend(
        f"| {_cell(str(row['repoURL']))} | {_cell(str(row['version']))} |"
        for row in freight.artifact_rows()
    )
    if steps:
        lines += ["", "| Step | Uses | Status |", "|---|---|---|"]
        for step in steps:
            status = str(step.get("status", ""))
            message = str(step.get("message") or "")
            lines.append(
                f"| {_cell(str(step.get('alias', '')))} | {_cell(str(step.get('uses', '')))} | "
                f"{_cell(status + (f': {message}' if message else ''))} |"
            )
    for alias, url in (commits or {}).items():
        lines += ["", f"Commit ({_cell(alias)}): {url}"]
    return "\n".join(lines)


def _cell(text: str) -> str:
    # A pipe would end the table cell; a newline would end the row.
    return text.replace("|", "\\|").replace("\n", " ")

"""The ``[project, "pipeline"]`` asset: every Stage of a Project and the Freight it holds now.

Kargo's UI draws a card per Stage: the Freight it holds, whether that Freight is healthy and
verified there, since when, who promoted it and how, whether auto-promotion is on hold, and
the Stage's metadata.
Dagster's UI answers each of those one Stage and one partition at a time. So each Project
gets one external asset (nothing runs to produce it, so users cannot materialize it) whose
latest (runless) materialization is the whole picture, shown on the asset's overview: a
markdown table with one row per Stage asset in pipeline order, and the same rows as JSON for
tools.

The Project's ``<project>__freight_status`` sensor records it in the tick that
reads the :class:`~kargo_dagster.defs.pipeline_state.PipelineState` anyway, and only when
the view differs from the one last recorded (one more bulk read, whatever the size), so the
asset's history is the list of changes.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from kargo_dagster.defs.dagster_internals import StorageSession
from kargo_dagster.defs.freight_matrix import iso_time
from kargo_dagster.defs.metadata_store import read_stage_metadata
from kargo_dagster.defs.names import HEALTH_CHECK, VERIFIED_CHECK, dagster_identifier
from kargo_dagster.defs.pipeline_state import CheckState, PipelineState, stage_requests
from kargo_dagster.freight import Freight
from kargo_dagster.redaction import redact_url
from kargo_dagster.spec import ProjectManifests

__all__ = [
    "META_PIPELINE",
    "build_pipeline_spec",
    "pipeline_events",
    "pipeline_key",
    "pipeline_view",
    "render_pipeline",
]

META_PIPELINE = "kargo/pipeline"

# A Stage card says one of four things about a check of the Freight the Stage holds. A check
# that was skipped, never ran, or checked an earlier promotion of the same Freight has not
# judged this promotion: "not run".
_SHOWN: dict[CheckState, str] = {
    "passed": "passed",
    "failed": "failed",
    "pending": "running",
    "skipped": "not run",
    "never run": "not run",
    "outdated": "not run",
}


def pipeline_key(project: str) -> dg.AssetKey:
    """The asset key of a Project's pipeline view: ``[project, "pipeline"]``."""
    return dg.AssetKey([project, "pipeline"])


def build_pipeline_spec(project: ProjectManifests) -> dg.AssetSpec:
    """The Project's pipeline view, an external asset in the Project's group."""
    sensor = f"{dagster_identifier(project.name)}__freight_status"
    return dg.AssetSpec(
        key=pipeline_key(project.name),
        group_name=dagster_identifier(project.name),
        kinds={"kargo"},
        description=(
            f"Every Stage of Project {project.name} in pipeline order, as Kargo's Stage cards "
            "show them: the Freight each holds now and its artifacts' versions, the health and "
            "verification of that Freight there (passed, failed, running, not run), since when "
            "it is there, who promoted it and how (promote, auto-promote, rollback), "
            "whether auto-promotion is on hold, and the Stage's metadata (set-metadata): the "
            "table under the latest materialization "
            f"(and the same rows as JSON in {META_PIPELINE}); the sensor {sensor} records a "
            "new one whenever any of it changes."
        ),
        metadata={"kargo/project": project.name},
    )


def pipeline_view(
    state: PipelineState, stage_metadata: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The view's content: a row per Stage asset in pipeline order, and the problems found.

    Only recorded times appear in it, never the time of reading, so reading an unchanged
    pipeline again gives the same view.

    Args:
        state: The Project's state.
        stage_metadata: Each Stage's metadata (``set-metadata``), by Stage name.
    """
    project = state.project
    stage_metadata = stage_metadata or {}
    rows: list[dict[str, Any]] = []
    for name, request, asset in stage_requests(project):
        origin = request.origin.name
        several = len(project.stages[name].spec.requested_freight) > 1
        row: dict[str, Any] = {
            "stage": name,
            "origin": origin,
            "asset": asset.to_user_string(),
            "label": f"{name} ({origin})" if several else name,
            "freight": None,
            "versions": [],
            "health": None,
            "verification": None,
            "verifiedAt": None,
            "since": None,
            "promotedBy": None,
            "action": None,
            "hold": None,
            "metadata": dict(stage_metadata.get(name, {})),
        }
        current = state.current_freight(asset)
        if current is not None:
            key = current.freight
            freight = state.recorded.get(key)
            verification = state.check(asset, VERIFIED_CHECK, key)
            run = state.run(current.run_id)
            row.update(
                freight=key,
                versions=_versions(freight) if freight is not None else [],
                health=_SHOWN[state.check(asset, HEALTH_CHECK, key).state],
                verification=_SHOWN[verification.state],
                verifiedAt=iso_time(verification.evaluated_at)
                if verification.state in ("passed", "failed")
                else None,
                since=iso_time(current.time),
                promotedBy=run.actor if run is not None else None,
                action=(run.action or None) if run is not None else None,
            )
        hold = state.hold(asset)
        if hold is not None:
            row["hold"] = {
                "freight": hold.freight,
                "actor": hold.actor,
                "reason": hold.reason,
                "since": iso_time(hold.since),
            }
        rows.append(row)
    return {"project": project.name, "stages": rows, "problems": list(state.problems)}


def pipeline_events(session: StorageSession, state: PipelineState) -> list[dg.AssetMaterialization]:
    """The pipeline view, when it differs from the one last recorded.

    It is recorded as a (runless) materialization rather than an observation so that the
    asset's overview page shows the table itself: that is where a user looks first.
    """
    key = pipeline_key(state.project.name)
    view = pipeline_view(state, read_stage_metadata(session, state.project))
    text = json.dumps(view, sort_keys=True)
    before = session.latest_unpartitioned_materializations_containing([key], META_PIPELINE).get(key)
    value = before.metadata.get(META_PIPELINE) if before is not None else None
    if value is not None and text == json.dumps(getattr(value, "value", None), sort_keys=True):
        return []
    return [
        dg.AssetMaterialization(
            asset_key=key,
            description=_summary(view),
            metadata={
                META_PIPELINE: dg.MetadataValue.json(json.loads(text)),
                "pipeline": dg.MetadataValue.md(render_pipeline(view)),
            },
        )
    ]


def render_pipeline(view: dict[str, Any]) -> str:
    """The view as a markdown table, one row per Stage asset."""
    lines = [
        f"### Pipeline of Project {view['project']}",
        "",
        "| Stage | Freight | Versions | Health | Verification | Since | By | Action | Hold "
        "| Metadata |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in view["stages"]:
        cells = [
            row["label"],
            row["freight"] or "-",
            ", ".join(row["versions"]) or "-",
            row["health"] or "-",
            row["verification"] or "-",
            row["since"] or "-",
            row["promotedBy"] or ("unknown" if row["freight"] else "-"),
            row["action"] or "-",
            _hold(row["hold"]),
            _metadata(row.get("metadata") or {}),
        ]
        lines.append("| " + " | ".join(_cell(str(cell)) for cell in cells) + " |")
    if view["problems"]:
        lines += ["", "**Problems**", "", *(f"- {_cell(p)}" for p in view["problems"])]
    return "\n".join(lines)


def _summary(view: dict[str, Any]) -> str:
    rows = view["stages"]
    holding = sum(1 for r in rows if r["freight"])
    verified = sum(1 for r in rows if r["verification"] == "passed")
    failed = sum(1 for r in rows if "failed" in (r["health"], r["verification"]))
    held = sum(1 for r in rows if r["hold"])
    return (
        f"{holding} of {len(rows)} Stages hold Freight: {verified} verified, {failed} failing, "
        f"{held} on hold"
    )


def _versions(freight: Freight) -> list[str]:
    """What each artifact's version is, named by the last part of its repository."""
    found = [
        f"{_name(i.repo_url)}:{i.tag}" if i.tag else f"{_name(i.repo_url)}@{i.digest[:19]}"
        for i in freight.images
    ]
    found += [f"{_name(c.repo_url)}@{c.tag or c.id[:7]}" for c in freight.commits]
    found += [f"{c.name or _name(c.repo_url)}:{c.version}" for c in freight.charts]
    return found


def _name(url: str) -> str:
    # Redacted first: a URL without a path would otherwise end in its credentials.
    redacted = redact_url(url)
    return redacted.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or redacted


def _hold(hold: dict[str, Any] | None) -> str:
    if hold is None:
        return "-"
    reason = f": {hold['reason']}" if hold["reason"] else ""
    return f"on hold with {hold['freight']} since {hold['since']} ({hold['actor']}{reason})"


def _metadata(values: Mapping[str, Any]) -> str:
    if not values:
        return "-"
    shown = (v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in values.values())
    return ", ".join(f"{k}={v}" for k, v in zip(values, shown, strict=True))


def _cell(text: str) -> str:
    # A pipe would end the table cell; a newline would end the row.
    return text.replace("|", "\\|").replace("\n", " ")

"""The floor under ``kargo-dagster status``: the same facts in two plain SQL queries.

``status`` reports, per Stage, the Freight it holds (since when, by which run) and the state of
its ``verified`` and ``health`` checks for that Freight, then the Freight x Stage matrix of the
newest Freight: current, verified or failed (and when), promoted (when, by whom), approved
(when, by whom), promotion failed, soaking. This module reads exactly those facts straight
from Dagster's tables (``event_logs``, ``asset_check_executions``, ``runs``, ``run_tags``,
``dynamic_partitions``) on a fresh psycopg2 connection, with the rules the package applies: a
check's state for a partition is its latest execution, ``outdated`` when the partition was
materialized again since, ``pending`` or ``skipped`` while only planned; a promotion failed
when the latest attempt that was not superseded failed without materializing; soak is
``availability.longest_soak``. So ``status_inprocess_s / floor_s`` says how far the package is
from what the database can answer. A Stage partition's promotions are found through their
runs' ``kargo/freight`` tag (every promotion run carries it; the Stage asset adds it itself),
which is faster than asking the event log for each Stage and Freight in turn.

:func:`compare` checks that the floor and ``collect_status`` agree on every fact.
"""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import scale_project as sp

from kargo_dagster.availability import Occupancy, longest_soak

__all__ = ["FREIGHT_ROWS", "compare", "read_floor"]

FREIGHT_ROWS = 10

_CURRENT_AND_NEWEST = """
SELECT 'current', k.key, e.partition, extract(epoch FROM e.timestamp)::float8, e.run_id
FROM unnest(%(assets)s::text[]) AS k(key)
CROSS JOIN LATERAL (
    SELECT partition, timestamp, run_id FROM event_logs
    WHERE asset_key = k.key AND dagster_event_type = 'ASSET_MATERIALIZATION'
    ORDER BY id DESC LIMIT 1
) AS e
UNION ALL
(SELECT 'newest', NULL, partition, NULL, NULL FROM dynamic_partitions
 WHERE partitions_def_name = %(partitions)s ORDER BY id DESC LIMIT %(rows)s)
"""

_FACTS = """
WITH mats AS (
    SELECT DISTINCT ON (e.asset_key, e.partition) e.asset_key, e.partition, e.id, e.timestamp,
        e.run_id
    FROM run_tags AS f CROSS JOIN LATERAL (
        SELECT asset_key, partition, id, timestamp, run_id FROM event_logs
        WHERE run_id = f.run_id AND dagster_event_type = 'ASSET_MATERIALIZATION'
    ) AS e
    WHERE f.key = 'kargo/freight' AND f.value = ANY(%(parts)s) AND e.partition = f.value
    ORDER BY e.asset_key, e.partition, e.id DESC
), checks AS (
    SELECT DISTINCT ON (asset_key, check_name, partition)
        asset_key, check_name, partition, execution_status, run_id,
        materialization_event_storage_id, evaluation_event_timestamp
    FROM asset_check_executions
    WHERE asset_key = ANY(%(assets)s) AND partition = ANY(%(parts)s)
      AND evaluation_event_storage_id IS NOT NULL
    ORDER BY asset_key, check_name, partition, id DESC
), attempts AS (
    SELECT DISTINCT ON (s.value, f.value) s.value AS stage, f.value AS freight, r.run_id, r.status
    FROM run_tags AS f
    JOIN run_tags AS s ON s.run_id = f.run_id AND s.key = 'kargo/stage'
    JOIN run_tags AS p ON p.run_id = f.run_id AND p.key = 'kargo/project' AND p.value = %(project)s
    JOIN runs AS r ON r.run_id = f.run_id
    WHERE f.key = 'kargo/freight' AND f.value = ANY(%(newest)s)
      AND NOT EXISTS (SELECT 1 FROM run_tags AS o WHERE o.run_id = f.run_id
                      AND o.key = 'kargo/outcome' AND o.value = 'superseded')
    ORDER BY s.value, f.value, r.id DESC
)
SELECT 'mat', m.asset_key, m.partition, m.run_id, a.value,
       extract(epoch FROM m.timestamp)::float8, m.id
FROM mats AS m LEFT JOIN run_tags AS a ON a.run_id = m.run_id AND a.key = 'kargo/actor'
UNION ALL
SELECT 'check', c.asset_key, c.partition, c.check_name,
       c.execution_status || '|' || coalesce(r.status, ''),
       extract(epoch FROM c.evaluation_event_timestamp)::float8, c.materialization_event_storage_id
FROM checks AS c LEFT JOIN runs AS r ON r.run_id = c.run_id
UNION ALL
SELECT 'attempt', t.stage, t.freight, t.run_id, t.status, NULL, NULL FROM attempts AS t
UNION ALL
SELECT 'approval', asset_key, partition, event, NULL, extract(epoch FROM timestamp)::float8, id
FROM event_logs
WHERE dagster_event_type = 'ASSET_OBSERVATION' AND asset_key = ANY(%(assets)s)
  AND partition = ANY(%(newest)s) AND event LIKE '%%kargo/approved%%'
UNION ALL
SELECT 'freight', NULL, partition, event, NULL, NULL, id FROM event_logs
WHERE asset_key = %(warehouse)s AND dagster_event_type = 'ASSET_MATERIALIZATION'
  AND partition = ANY(%(current)s)
UNION ALL
SELECT 'staging', NULL, partition, NULL, NULL, extract(epoch FROM timestamp)::float8, id
FROM event_logs
WHERE asset_key = %(staging)s AND dagster_event_type = 'ASSET_MATERIALIZATION'
  AND id >= coalesce((SELECT min(id) FROM event_logs WHERE asset_key = %(staging)s
                      AND dagster_event_type = 'ASSET_MATERIALIZATION'
                      AND partition = ANY(%(newest)s)), 9223372036854775807)
"""

_FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def _asset(stage: str) -> str:
    return json.dumps([sp.PROJECT, "stage", stage])


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _metadata(event: str) -> dict[str, Any]:
    """The metadata values of a serialized asset event, by label."""
    data = json.loads(event)["dagster_event"]["event_specific_data"]
    inner = data.get("materialization") or data.get("asset_observation") or {}
    values: dict[str, Any] = {}
    for entry in inner.get("metadata_entries", []):
        payload = entry["entry_data"]
        values[entry["label"]] = payload.get("value", payload.get("text"))
    return values


def read_floor(connect: dict[str, Any], stages: list[str]) -> dict[str, Any]:
    """Every fact ``status`` prints, read on a new connection in two queries."""
    connection = psycopg2.connect(**connect)
    try:
        with connection.cursor() as cursor:
            assets = [_asset(s) for s in stages]
            cursor.execute(
                _CURRENT_AND_NEWEST,
                {
                    "assets": assets,
                    "partitions": f"{sp.PROJECT}/{sp.WAREHOUSE}",
                    "rows": FREIGHT_ROWS,
                },
            )
            current: dict[str, tuple[str, float, str]] = {}
            newest: list[str] = []
            for kind, asset, partition, since, run_id in cursor.fetchall():
                if kind == "current":
                    current[asset] = (partition, since, run_id)
                else:
                    newest.append(partition)
            held = sorted({c[0] for c in current.values()})
            cursor.execute(
                _FACTS,
                {
                    "assets": assets,
                    "parts": sorted(set(newest) | set(held)),
                    "newest": newest,
                    "current": held,
                    "project": sp.PROJECT,
                    "warehouse": json.dumps([sp.PROJECT, "warehouse", sp.WAREHOUSE]),
                    "staging": _asset("staging"),
                },
            )
            rows = cursor.fetchall()
    finally:
        connection.close()
    return _assemble(stages, current, newest, rows, time.time())


def _assemble(
    stages: list[str],
    current: dict[str, tuple[str, float, str]],
    newest: list[str],
    rows: list[tuple[Any, ...]],
    now: float,
) -> dict[str, Any]:
    mats: dict[tuple[str, str], tuple[str, str, float, int]] = {}
    checks: dict[tuple[str, str, str], tuple[str, str, float | None, int | None]] = {}
    attempts: dict[tuple[str, str], tuple[str, str]] = {}
    approvals: dict[tuple[str, str], tuple[str, float, int]] = {}
    freight_ids: dict[str, str] = {}
    staging: list[Occupancy] = []
    for kind, asset, partition, a, b, number, storage_id in rows:
        if kind == "mat":
            mats[(asset, partition)] = (a, b or "", number, storage_id)
        elif kind == "check":
            status, run_status = b.split("|")
            checks[(asset, a, partition)] = (status, run_status, number, storage_id)
        elif kind == "attempt":
            attempts[(asset, partition)] = (a, b)
        elif kind == "approval":
            metadata = _metadata(a)
            best = approvals.get((asset, partition))
            if metadata.get("kargo/approved") is True and (best is None or storage_id > best[2]):
                actor = str(metadata.get("kargo/actor") or "")
                approvals[(asset, partition)] = (actor, number, storage_id)
        elif kind == "freight":
            freight_ids[partition] = str(_metadata(a).get("kargo/freight_id"))
        else:
            staging.append(Occupancy(partition, number))

    def state(asset: str, check: str, partition: str) -> str:
        found = checks.get((asset, check, partition))
        if found is None:
            return "never run"
        status, run_status, _, target = found
        if status == "PLANNED":
            return "skipped" if run_status in _FINISHED or not run_status else "pending"
        latest = mats.get((asset, partition))
        if latest is not None and latest[3] != target:
            return "outdated"
        return "passed" if status == "SUCCEEDED" else "failed"

    report_stages = []
    for stage in stages:
        asset = _asset(stage)
        entry: dict[str, Any] = {"stage": stage, "freight": None}
        if asset in current:
            partition, since, run_id = current[asset]
            entry.update(
                freight=partition,
                freightID=freight_ids.get(partition),
                since=datetime.fromtimestamp(since, UTC).isoformat(),
                runID=run_id,
                verification=state(asset, "verified", partition),
                health=state(asset, "health", partition),
            )
        report_stages.append(entry)
    soak = timedelta(hours=1)
    matrix = []
    for partition in newest:
        cells: dict[str, dict[str, Any]] = {}
        for stage in stages:
            asset = _asset(stage)
            states: list[str] = []
            cell: dict[str, Any] = {"states": states}
            if asset in current and current[asset][0] == partition:
                states.append("current")
            verified = state(asset, "verified", partition)
            if verified in ("passed", "failed"):
                states.append("verified" if verified == "passed" else "failed")
                end = checks[(asset, "verified", partition)][2]
                if end is not None:
                    cell["verifiedAt"] = _iso(end)
            promoted = mats.get((asset, partition))
            if promoted is not None:
                cell["promotedAt"], cell["promotedBy"] = _iso(promoted[2]), promoted[1]
            approved = approvals.get((asset, partition))
            if approved is not None:
                states.append("approved")
                cell["approvedBy"], cell["approvedAt"] = approved[0], _iso(approved[1])
            attempt = attempts.get((stage, partition))
            if attempt is not None and attempt[1] == "FAILURE":
                if promoted is None or promoted[0] != attempt[0]:
                    states.append("promotion failed")
            if (
                promoted is None
                and sp.stage_class(stage) == "fan-out"
                and approved is None
                and state(_asset("staging"), "verified", partition) == "passed"
                and longest_soak(staging, partition, now) < soak
            ):
                states.append("soaking")
            cells[stage] = cell
        matrix.append({"freight": partition, "stages": cells})
    return {"stages": report_stages, "freight": matrix}


def compare(floor: dict[str, Any], status: dict[str, Any]) -> list[str]:
    """Where ``collect_status``'s report and the floor disagree (empty when they agree)."""
    problems: list[str] = []
    [project] = status["projects"]
    keys = ("freight", "freightID", "since", "runID", "verification", "health")
    for mine, theirs in zip(floor["stages"], project["stages"], strict=True):
        problems.extend(
            f"{mine['stage']} {key}: {mine.get(key)} != {theirs.get(key)}"
            for key in keys
            if mine.get(key) != theirs.get(key)
        )
    for mine, theirs in zip(floor["freight"], project["freight"], strict=True):
        if mine["freight"] != theirs["freight"]:
            problems.append(f"matrix row {mine['freight']} != {theirs['freight']}")
            continue
        for stage, cell in mine["stages"].items():
            other = theirs["stages"].get(stage, {})
            if cell != other:
                problems.append(f"{mine['freight']} in {stage}: {cell} != {other}")
    return problems

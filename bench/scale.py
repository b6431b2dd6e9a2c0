"""kargo-dagster at the size of a real Kargo project, on PostgreSQL.

A synthetic Project (``scale_project``: N Stages, ``dev`` -> ``staging`` -> N-2 fan-out
Stages, auto-promoted, git steps, verification) is given a history of F Freight and their
promotions (about 43,000 runs at N=300, F=10,000) in a PostgreSQL database of its own
(``scale_history``), made of real promotion runs' events (``scale_templates``) loaded in bulk
(``scale_writer``). Then the package's entry points are timed against it:

- ``status_s``: ``kargo-dagster status --json`` as a new process (median of 3, after a
  warm-up); ``status_inprocess_s`` with statement and connection counts; ``floor_s``, the same
  facts in plain SQL (``scale_floor``, median of 3), and ``status_over_floor``;
- one tick of the ``__auto_promotion`` and ``__freight_status`` sensors, then a quiet one
  with the cursor the first returned, nothing changed in between (run requests are not
  launched); then the freight status tick's observations are stored, as the daemon would
  store them, and the sensor ticks again with that cursor (``freight_status_tick_after_write``);
- ``history_s`` (``dev``), ``gate_s`` (``evaluate_availability`` of a fan-out Stage for the
  newest Freight verified in ``staging``), ``defs_load_s``, ``import_dagster_s``.

Each in-process measurement runs in a forked child of the process holding the opened instance,
counting SQL statements (SQLAlchemy ``before_cursor_execute``) and connections opened (pool
``connect``); a child that has not answered within ``--timeout`` seconds is killed, its
queries cancelled, and the measurement recorded as null.

Private Dagster API used here: ``partition_loading_context`` and
``CachingDynamicPartitionsLoader``, the store of dynamic partitions the code server evaluates a
tick with; a context from ``build_sensor_context(instance=...)`` has none, and a tick requesting
a run for a dynamic partition then fails to validate it.

Populating the full size takes a few minutes; ``--reuse`` keeps the populated database as
a template (``kargo_bench_tpl_n<N>_f<F>_<version>``, the version a hash of the generator's
source and of the package modules that shape what a promotion writes) and later runs copy it.
A reused history ends when it was populated (``history_age_s``). The working database and the
temporary directories are dropped at the end, whatever happens.

PostgreSQL: 127.0.0.1:5432, user postgres, trust authentication (override with
``KARGO_DAGSTER_TEST_PG_HOST``, ``_PORT``, ``_USER``, as the tests do).

Run: ``.venv/bin/python bench/scale.py`` (N=300, F=10,000), ``--quick`` (60, 1,000),
``--stages N --freight F``, ``--reuse``, ``--timeout SECONDS``. Each measurement prints a line;
the last line is one JSON object.
"""

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import scale_project as sp
from scale_database import (
    connect_args,
    create_database,
    dagster_yaml,
    database_exists,
    drop_database,
    keep_template,
    template_name,
)
from scale_guard import Guard, median, rounded, run_process

BENCH = Path(__file__).resolve().parent
# The history comes from the generator's modules, and what a promotion writes from the
# package's; a change to either makes a new template.
_GENERATOR = (
    "scale_project.py",
    "scale_templates.py",
    "scale_holes.py",
    "scale_history.py",
    "scale_generator.py",
    "scale_writer.py",
)
_SHAPING = (
    "defs/stage_assets.py",
    "defs/stage_checks.py",
    "defs/stage_verification.py",
    "defs/stage_health.py",
    "defs/promotion_runner.py",
    "defs/promotion_summary.py",
    "defs/freight_store.py",
    "defs/approvals.py",
    "defs/holds.py",
)
STATUS_RUNS = 3


def generator_version() -> str:
    """A hash of what decides the populated history: the generator, the modules shaping a
    promotion's events, and Dagster's version."""
    import dagster

    import kargo_dagster

    package = Path(kargo_dagster.__file__).parent
    digest = hashlib.sha256(dagster.__version__.encode())
    for path in [*(BENCH / p for p in _GENERATOR), *(package / p for p in _SHAPING)]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 Stages, 1,000 Freight")
    parser.add_argument("--stages", type=int, help="Stages in the Project (default 300)")
    parser.add_argument("--freight", type=int, help="Freight in the history (default 10,000)")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse a template database")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per measurement")
    args = parser.parse_args()
    stages = args.stages or (60 if args.quick else 300)
    freight = args.freight or (1_000 if args.quick else 10_000)
    if stages < 3 or freight < 1:
        parser.error("at least 3 Stages and 1 Freight")

    def terminate(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    root = Path(tempfile.mkdtemp(prefix="kargo-scale-"))
    database = f"kargo_bench_{uuid.uuid4().hex[:12]}"
    created = False
    try:
        create_database(database, None)
        created = True
        results = bench(args, root, database, stages, freight)
    finally:
        if created:
            drop_database(database)
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(results))


def bench(
    args: argparse.Namespace, root: Path, database: str, stages: int, freight: int
) -> dict[str, Any]:
    """Populate (or copy) the database, then measure; returns the JSON result."""
    bin_dir = Path(sys.executable).parent
    cli = str(bin_dir / "kargo-dagster")
    manifests = sp.write_manifests(root / "stages", sp.manifests(sp.stage_names(stages)))
    home = root / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml(database))
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    results: dict[str, Any] = {"stages": stages, "freight": freight}

    imports = [
        run_process([sys.executable, "-c", "import dagster"], env, args.timeout)[0]
        for _ in range(3)
    ]
    results["import_dagster_s"] = median(imports)
    print(f"import dagster: {results['import_dagster_s']} s (median of 3)", flush=True)
    seconds, out = run_process([cli, "validate", str(manifests)], env, args.timeout)
    if seconds is None:
        raise SystemExit(f"kargo-dagster validate rejects the synthetic Project:\n{out}")
    print(f"kargo-dagster validate: ok ({seconds:.2f} s)", flush=True)

    import dagster as dg

    from kargo_dagster import load_manifests

    version = generator_version()
    template = template_name(stages, freight, version)
    if args.reuse and database_exists(template):
        drop_database(database)
        create_database(database, template)
        results["populate_s"] = None
        print(f"history: copied from template {template}", flush=True)
    else:
        results["populate_s"] = populate(database, home, manifests, stages, freight)
        if args.reuse:
            keep_template(database, template, stages, freight)
    catalog = load_manifests(manifests)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        results.update(measure(args, instance, catalog, manifests, database, stages))
    results.update(measure_cli(args, cli, manifests, env))
    status, floor = results.get("status_inprocess_s"), results.get("floor_s")
    results["status_over_floor"] = round(status / floor, 1) if status and floor else None
    return results


def populate(database: str, home: Path, manifests: Path, stages: int, freight: int) -> float:
    """Write the history; the seconds it took (templates, load and VACUUM ANALYZE included)."""
    import dagster as dg
    from scale_history import populate as write_history
    from scale_templates import capture_templates

    from kargo_dagster import load_manifests

    started = time.perf_counter()
    templates = capture_templates()
    print(f"templates: {len(templates.runs)} real promotion runs captured", flush=True)
    project = load_manifests(manifests).projects[sp.PROJECT]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        done = write_history(
            instance,
            connect_args(database),
            manifests,
            project,
            templates,
            stages=stages,
            freight_count=freight,
            now=time.time(),
        )
    connection = psycopg2.connect(**connect_args(database))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            # A live database is kept by autovacuum: planner statistics (ANALYZE) and a
            # visibility map that lets index-only scans skip the table (VACUUM). A bulk load
            # has neither until then, and this server runs without autovacuum.
            cursor.execute("VACUUM ANALYZE")
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in done.seconds.items())
    print(
        f"populate: {done.runs} runs, {done.events} events, {done.freight} Freight in "
        f"{seconds:.0f} s ({parts})",
        flush=True,
    )
    return round(seconds, 1)


def measure(
    args: argparse.Namespace,
    instance: Any,
    catalog: Any,
    manifests: Path,
    database: str,
    stages: int,
) -> dict[str, Any]:
    """The in-process measurements, each in a guarded child of this process."""
    import dagster as dg
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.instance.types import CachingDynamicPartitionsLoader
    from scale_floor import compare, read_floor

    from kargo_dagster import load_definitions
    from kargo_dagster.defs.availability_facts import evaluate_availability
    from kargo_dagster.defs.history import collect_history
    from kargo_dagster.defs.status_report import collect_status

    guard = Guard(args.timeout, database)
    results: dict[str, Any] = {}
    names = sp.stage_names(stages)
    project = catalog.projects[sp.PROJECT]
    ident = sp.PROJECT.replace("-", "_")

    def record(key: str, what: str, seconds: float | None, counts: dict | None = None) -> None:
        results[f"{key}_s"] = rounded(seconds)
        if counts is not None:
            results[f"statements_{key}"] = counts["statements"] if seconds is not None else None
        if seconds is None:
            print(f"{what}: null", flush=True)
        elif counts is None:
            print(f"{what}: {rounded(seconds)} s", flush=True)
        else:
            sql = f"{counts['statements']} SQL statements, {counts['connections']} connections"
            print(f"{what}: {seconds:.3f} s ({sql})", flush=True)

    seconds, _, _ = guard.measure("load_definitions", lambda: bool(load_definitions(manifests)))
    record("defs_load", "load_definitions", seconds)
    defs = load_definitions(manifests)
    with contextlib.suppress(Exception):
        # What any caller of an opened instance has already paid: the storages' first queries.
        instance.get_run_records(limit=1)
        instance.get_dynamic_partitions(f"{sp.PROJECT}/{sp.WAREHOUSE}")
    results["runs"] = instance.get_runs_count()
    ends = instance.fetch_materializations(
        dg.AssetKey([sp.PROJECT, "stage", "dev"]), limit=1
    ).records
    results["history_age_s"] = round(time.time() - ends[0].timestamp) if ends else None
    print(f"instance: {results['runs']} runs, history ends {results['history_age_s']} s ago")

    def tick(name: str, cursor: str | None) -> dict[str, Any]:
        sensor = defs.resolve_sensor_def(f"{ident}__{name}")
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
        # The code server evaluates a tick with a caching store of dynamic partitions (its
        # context has an instance ref); a context built from an instance has none, and without
        # one a run request for a dynamic partition cannot be validated.
        store = CachingDynamicPartitionsLoader(instance)
        with partition_loading_context(dynamic_partitions_store=store):
            result = sensor.evaluate_tick(context)
        return {
            "cursor": result.cursor,
            "requests": len(result.run_requests or []),
            "events": [dg.serialize_value(e) for e in result.asset_events or []],
        }

    seconds, counts, first = guard.measure(
        "auto-promotion tick", lambda: tick("auto_promotion", None)
    )
    record("auto_tick", "auto-promotion tick", seconds, counts)
    if first is not None:
        print(f"  {first['requests']} run requests", flush=True)
    cursor = first["cursor"] if first else None
    seconds, counts, _ = guard.measure(
        "auto-promotion quiet tick", lambda: tick("auto_promotion", cursor)
    )
    record("auto_tick_quiet", "auto-promotion tick, quiet", seconds, counts)

    seconds, counts, first = guard.measure(
        "freight status tick", lambda: tick("freight_status", None)
    )
    record("freight_status_tick", "freight status tick", seconds, counts)
    cursor = first["cursor"] if first else None
    seconds, counts, _ = guard.measure(
        "freight status quiet tick", lambda: tick("freight_status", cursor)
    )
    record("freight_status_tick_quiet", "freight status tick, quiet", seconds, counts)
    if first is not None:
        # What the daemon does with the first tick's observations; they are new events, so the
        # next tick cannot be a quiet one.
        for event in first["events"]:
            instance.report_runless_asset_event(dg.deserialize_value(event))
        seconds, counts, _ = guard.measure(
            "freight status tick after its observations", lambda: tick("freight_status", cursor)
        )
        what = f"freight status tick after storing its {len(first['events'])} observations"
        record("freight_status_tick_after_write", what, seconds, counts)

    seconds, counts, _ = guard.measure(
        "history", lambda: len(collect_history(instance, sp.PROJECT, "dev", limit=20))
    )
    record("history", "history --stage dev", seconds, counts)

    partition = newest_verified(database, "staging")
    fan_out = names[2]
    request = project.stages[fan_out].spec.requested_freight[0]
    seconds, counts, answer = guard.measure(
        "gate",
        lambda: evaluate_availability(instance, project, fan_out, request, partition).reason,
    )
    record("gate", f"gate ({fan_out}, {partition})", seconds, counts)
    if answer:
        print(f"  {answer}", flush=True)

    seconds, counts, report = guard.measure(
        "status", lambda: json.loads(json.dumps(collect_status(instance, catalog), default=str))
    )
    record("status_inprocess", "status in process", seconds, counts)
    results["statements_status"] = results.pop("statements_status_inprocess")
    results["connections_status"] = counts["connections"] if seconds is not None else None

    samples, floor = [], None
    for _ in range(3):
        seconds, _, floor = guard.measure(
            "floor", lambda: read_floor(connect_args(database), names)
        )
        samples.append(seconds)
    results["floor_s"] = median(samples, 4)
    print(f"floor (plain SQL, new connection): {results['floor_s']} s (median of 3)", flush=True)
    if floor is not None and report is not None:
        problems = compare(floor, report)
        results["floor_agrees"] = not problems
        for problem in problems[:10]:
            print(f"  floor and status disagree: {problem}", flush=True)
    return results


def newest_verified(database: str, stage: str) -> str | None:
    """The newest Freight whose ``verified`` check passed in ``stage``."""
    connection = psycopg2.connect(**connect_args(database))
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT partition FROM asset_check_executions WHERE asset_key = %s"
                " AND check_name = 'verified' AND execution_status = 'SUCCEEDED'"
                " ORDER BY id DESC LIMIT 1",
                (json.dumps([sp.PROJECT, "stage", stage]),),
            )
            row = cursor.fetchone()
    finally:
        connection.close()
    return row[0] if row else None


def measure_cli(
    args: argparse.Namespace, cli: str, manifests: Path, env: dict[str, str]
) -> dict[str, Any]:
    """``kargo-dagster status --json`` as a new process: a warm-up, then the median of 3."""
    command = [cli, "status", "--json", "--path", str(manifests)]
    warm, out = run_process(command, env, args.timeout)
    print(f"status (warm-up): {rounded(warm)} s", flush=True)
    if warm is None:
        print(f"  {out.strip()[-500:]}", flush=True)
        return {"status_s": None}
    samples = []
    for _ in range(STATUS_RUNS):
        seconds, out = run_process(command, env, args.timeout)
        samples.append(seconds)
        if seconds is None:
            break
    value = median(samples) if len(samples) == STATUS_RUNS else None
    print(f"kargo-dagster status --json: {value} s (median of {STATUS_RUNS})", flush=True)
    return {"status_s": value}


if __name__ == "__main__":
    main()

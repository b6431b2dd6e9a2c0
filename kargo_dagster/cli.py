"""The ``kargo-dagster`` command line.

``validate`` needs only the manifest model and starts without Dagster; the other commands
read or write the Dagster instance named by ``DAGSTER_HOME``.
"""

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kargo_dagster.cli_doctor import add_doctor
from kargo_dagster.cli_root import find_root, load_defs
from kargo_dagster.errors import KargoDagsterError, ManifestError, PromotionRefusedError
from kargo_dagster.spec import Catalog, ProjectManifests, load_manifests
from kargo_dagster.spec.diagnostics import did_you_mean

if TYPE_CHECKING:
    from dagster import DagsterInstance

DEFAULT_WEBSERVER = "http://127.0.0.1:3000"
# Defaults resolved against the project root (found from the current directory up), so a
# command works from any directory inside the project.
PATH_HELP = "the Kargo manifests (default: the project's, found from the current directory)"
DEFINITIONS_HELP = "the code location file (default: the project's definitions.py)"
FREIGHT_FORMS = (
    "its partition key, a version (image tag, chart version, git tag or commit), its ID or "
    "a 7+ hex prefix, or its alias"
)
FREIGHT_HELP = f"the Freight: {FREIGHT_FORMS}"


def _validate(args: argparse.Namespace) -> int:
    try:
        catalog = load_manifests(args.path)
    except ManifestError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    for project in catalog.projects.values():
        print(
            f"Project {project.name}: {len(project.warehouses)} Warehouse(s), "
            f"{len(project.stages)} Stage(s), {len(project.promotion_tasks)} PromotionTask(s)"
        )
    return 0


def _discover(args: argparse.Namespace) -> int:
    from kargo_dagster.credentials import credentials_from_env
    from kargo_dagster.discovery.report import render_discoveries
    from kargo_dagster.discovery.subscribers import build_subscribers, default_work_dir
    from kargo_dagster.discovery.warehouse import discover_warehouse

    catalog = load_manifests(args.path)
    subscribers = build_subscribers(
        credentials=credentials_from_env(os.environ),
        work_dir=Path(args.work_dir) if args.work_dir else default_work_dir(),
        insecure_registries=args.insecure_registry or [],
    )
    report: list[dict] = []
    failed = False
    found_any = False
    for project in catalog.projects.values():
        if args.project and project.name != args.project:
            continue
        results = [
            discover_warehouse(warehouse, subscribers)
            for name, warehouse in project.warehouses.items()
            if not args.warehouse or name == args.warehouse
        ]
        found_any = found_any or bool(results)
        failed = failed or any(r.failed for r in results)
        if args.json:
            report.extend({"project": project.name, **r.to_json()} for r in results)
        elif results:
            print(render_discoveries(project.name, results))
    if not found_any:
        names = {
            w
            for p in catalog.projects.values()
            if not args.project or p.name == args.project
            for w in p.warehouses
        }
        listed = ", ".join(sorted(names)) or "none"
        if args.warehouse:
            hint = did_you_mean(args.warehouse, names)
            raise KargoDagsterError(
                f"no Warehouse {args.warehouse} in {args.path}{hint} (found: {listed})"
            )
        raise KargoDagsterError(f"no Warehouse in {args.path} (found: {listed})")
    if args.json:
        print(json.dumps(report, indent=2))
    return 1 if failed else 0


def _status(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.status import collect_status, render_status_table

    catalog = _manifests(args)
    with _instance() as instance:
        report = collect_status(instance, catalog)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_status_table(report))
    return 0


def _history(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.history import collect_history, render_history

    project = _project(_manifests(args), args.project)
    _check_stage(project, args.stage)
    with _instance() as instance:
        rows = collect_history(instance, project.name, args.stage, limit=args.limit)
    print(json.dumps(rows, indent=2) if args.json else render_history(args.stage, rows))
    return 0


def _approve(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.approvals import approve_freight
    from kargo_dagster.defs.freight_lookup import resolve_freight

    project = _project(_manifests(args), args.project)
    _check_stage(project, args.stage)
    actor = _actor(args)
    with _instance() as instance:
        freight = resolve_freight(instance, project, stage=args.stage, given=args.freight)
        approve_freight(instance, project, stage=args.stage, partition_key=freight, actor=actor)
    print(f"Freight {freight} approved for Stage {args.stage} by {actor}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    return _launch(args, action="promote", freight=args.freight)


def _rollback(args: argparse.Namespace) -> int:
    return _launch(args, action="rollback", freight=args.to)


def _launch(args: argparse.Namespace, *, action: str, freight: str | None) -> int:
    from kargo_dagster.clients.dagster_webserver import DagsterWebserver
    from kargo_dagster.defs.freight_lookup import resolve_freight
    from kargo_dagster.defs.names import HEALTH_CHECK, VERIFIED_CHECK, stage_job_name_for
    from kargo_dagster.defs.promotion_targets import (
        check_available,
        promote_here,
        promotion_target,
    )
    from kargo_dagster.defs.run_failures import failure_reasons
    from kargo_dagster.defs.stage_pools import ensure_stage_pools

    project = _project(_manifests(args), args.project)
    _check_stage(project, args.stage)
    actor = _actor(args)
    verb = "rolling back Stage" if action == "rollback" else "promoting Freight"
    with _instance() as instance:
        ensure_stage_pools(instance, project)
        if freight is not None:
            freight = resolve_freight(instance, project, stage=args.stage, given=freight)
        key, freight = promotion_target(
            instance, project, stage=args.stage, freight=freight, rollback=action == "rollback"
        )
        # The Stage asset's own gate, asked now: Kargo offers no way to promote Freight that
        # is not available (approval is the way), so neither does this command.
        availability = check_available(
            instance, project, stage=args.stage, key=key, freight=freight
        )
        if not availability.available:
            raise PromotionRefusedError(
                f"{availability.reason}\n  Nothing was launched. To approve it: "
                + _command("approve", args, "--stage", args.stage, "--freight", freight)
            )
        what = (
            f"{args.stage} to {freight}" if action == "rollback" else f"{freight} into {args.stage}"
        )
        tags = {
            "kargo/project": project.name,
            "kargo/stage": args.stage,
            "kargo/freight": freight,
            "kargo/action": action,
            "kargo/actor": actor,
        }
        if args.local:
            result = promote_here(load_defs(args.definitions), instance, key, freight, tags)
            if args.wait:
                return _report_end(instance, project.name, result.run_id, f"{verb} {what}")
            outcome = "succeeded" if result.success else "failed"
            print(f"Run {result.run_id} {verb} {what} {outcome}")
            for failure in failure_reasons(instance, result.run_id):
                print(f"  {failure}")
            return 0 if result.success else 1
        with DagsterWebserver(args.url) as webserver:
            run = webserver.launch_partition(
                key.path,
                freight,
                checks=(HEALTH_CHECK, VERIFIED_CHECK),
                tags=tags,
                job=stage_job_name_for(key, "promote"),
            )
        print(f"Launched run {run.run_id} {verb} {what}: {run.url}", flush=True)
        if not args.wait:
            return 0
        try:
            return _report_end(instance, project.name, run.run_id, f"{verb} {what}")
        except KeyboardInterrupt:
            # Waiting is the command's business; the run is the instance's and goes on.
            print(f"Stopped waiting; run {run.run_id} goes on: {run.url}", file=sys.stderr)
            return 130


def _report_end(instance: "DagsterInstance", project: str, run_id: str, what: str) -> int:
    """Follow run ``run_id`` to its end and print one line saying how it ended."""
    from kargo_dagster.defs.promotion_outcomes import follow_run
    from kargo_dagster.defs.state_records import RunOutcome

    def progress(outcome: RunOutcome) -> None:
        # While it waits, on stderr: stdout keeps the one line a script reads.
        if outcome in (RunOutcome.QUEUED, RunOutcome.RUNNING, RunOutcome.CANCELING):
            print(f"Run {run_id} is {outcome.value}", file=sys.stderr, flush=True)

    end = follow_run(instance, project, run_id, on_change=progress)
    print(f"Run {run_id} {what} {end}")
    return 0 if end.succeeded else 1


def _command(name: str, args: argparse.Namespace, *arguments: str) -> str:
    """The ``kargo-dagster`` command line that does ``name`` on what ``args`` chose."""
    import shlex

    chosen = [("--path", args.path), ("--project", args.project)]
    words = [name, *(w for flag, value in chosen if value for w in (flag, value)), *arguments]
    return shlex.join(["kargo-dagster", *words])


def _hold(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from kargo_dagster.defs.holds import current_hold, lift_hold
    from kargo_dagster.defs.names import stage_asset_key

    project = _project(_manifests(args), args.project)
    stage = _check_stage(project, args.stage)
    with _instance() as instance:
        for request in stage.spec.requested_freight:
            key = stage_asset_key(project, args.stage, request.origin.name)
            if args.lift:
                actor = _actor(args)
                hold = lift_hold(instance, key, actor=actor)
            else:
                hold = current_hold(instance, key)
            if hold is None:
                print(f"Stage {args.stage} is not on hold")
            elif args.lift:
                print(
                    f"Lifted the hold on Stage {args.stage} ({hold.freight}, placed by "
                    f"{hold.actor}); auto-promotion resumes on the next tick"
                )
            else:
                since = datetime.fromtimestamp(hold.since, UTC).strftime("%Y-%m-%d %H:%M UTC")
                print(
                    f"Stage {args.stage} is on hold with {hold.freight} (placed by "
                    f"{hold.actor}, {since}): {hold.reason}"
                )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.freight_lookup import resolve_freight
    from kargo_dagster.defs.reverification import reverify

    project = _project(_manifests(args), args.project)
    _check_stage(project, args.stage)
    actor = _actor(args)
    with _instance() as instance:
        given = args.freight
        if given is not None:
            given = resolve_freight(instance, project, stage=args.stage, given=given)
        defs = load_defs(args.definitions)
        freight, outcomes = reverify(
            defs, instance, project, stage=args.stage, partition_key=given, actor=actor
        )
    for outcome in outcomes:
        verdict = "passed" if outcome.passed else "failed"
        print(f"{outcome.check} {verdict}: {outcome.description}")
    passed = len(outcomes) == 2 and all(o.passed for o in outcomes)
    print(f"Freight {freight} in Stage {args.stage}: {'verified' if passed else 'not verified'}")
    return 0 if passed else 1


def _manifests(args: argparse.Namespace) -> Catalog:
    """The manifests ``--path`` names, else the project's, found from the current directory."""
    return load_manifests(args.path if args.path else find_root().manifests())


def _project(catalog: Catalog, name: str | None) -> ProjectManifests:
    project = catalog.projects.get(name) if name else None
    if project is None:
        if name:
            hint = did_you_mean(name, catalog.projects)
            names = ", ".join(sorted(catalog.projects)) or "none"
            raise KargoDagsterError(f"no Project {name}{hint} (found: {names})")
        if len(catalog.projects) != 1:
            names = ", ".join(sorted(catalog.projects)) or "none"
            raise KargoDagsterError(f"choose a Project with --project (found: {names})")
        project = next(iter(catalog.projects.values()))
    return project


def _check_stage(project: ProjectManifests, name: str):  # -> the Stage's manifest
    stage = project.stages.get(name)
    if stage is None:
        hint = did_you_mean(name, project.stages)
        names = ", ".join(sorted(project.stages)) or "none"
        raise KargoDagsterError(f"Project {project.name} has no Stage {name}{hint} ({names})")
    return stage


def _actor(args: argparse.Namespace) -> str:
    """Who acts: ``--actor``, else the operating system's login name (never "unknown")."""
    if args.actor:
        return args.actor
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        # No login name in the environment and none in the password database (a container
        # running under an arbitrary uid): the uid still says who.
        return f"uid:{os.getuid()}"


def _demo(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.demo import run_demo

    return run_demo(
        workspace=Path(args.workspace) if args.workspace else find_root().workspace(),
        home=Path(args.home) if args.home else find_root().path / ".dagster-demo",
        port=args.port,
        publish_every=args.publish_every,
    )


def _instance():  # -> contextmanager of a DagsterInstance
    from kargo_dagster.defs.instance_access import open_instance

    return open_instance()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kargo-dagster", description="Kargo's promotion model on Dagster."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check Kargo manifests and report problems")
    validate.add_argument("path", help="a manifest file or a directory of manifests")
    validate.set_defaults(handler=_validate)

    discover = commands.add_parser(
        "discover", help="run discovery once and show what Freight it would create"
    )
    discover.add_argument("path", help="a manifest file or a directory of manifests")
    discover.add_argument("--project", help="only this Project")
    discover.add_argument("--warehouse", help="only this Warehouse")
    discover.add_argument("--json", action="store_true", help="print JSON")
    discover.add_argument("--work-dir", help="where git mirrors are kept")
    discover.add_argument(
        "--insecure-registry",
        action="append",
        metavar="HOST[:PORT]",
        help="a registry to reach over plain HTTP (loopback registries always are)",
    )
    discover.set_defaults(handler=_discover)

    status = commands.add_parser("status", help="which Freight each Stage holds")
    status.add_argument("--path", help=PATH_HELP)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_status)

    history = commands.add_parser("history", help="a Stage's promotions, newest first")
    history.add_argument("--path", help=PATH_HELP)
    history.add_argument("--project", help="the Project (optional when there is one)")
    history.add_argument("--stage", required=True)
    history.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=_history)

    approve = commands.add_parser("approve", help="make Freight available to a Stage")
    approve.add_argument("--path", help=PATH_HELP)
    approve.add_argument("--project", help="the Project (optional when there is one)")
    approve.add_argument("--stage", required=True)
    approve.add_argument("--freight", required=True, help=FREIGHT_HELP)
    approve.add_argument("--actor", help="who approves (default: your login name)")
    approve.set_defaults(handler=_approve)

    promote = commands.add_parser(
        "promote", help="promote Freight into a Stage through the running Dagster webserver"
    )
    rollback = commands.add_parser(
        "rollback", help="promote a Stage's previous Freight (or --to) again, as a rollback"
    )
    for command, handler in ((promote, _promote), (rollback, _rollback)):
        command.add_argument("--path", help=PATH_HELP)
        command.add_argument("--project", help="the Project (optional when there is one)")
        command.add_argument("--stage", required=True)
        command.add_argument(
            "--url", default=DEFAULT_WEBSERVER, help=f"the webserver (default {DEFAULT_WEBSERVER})"
        )
        command.add_argument("--actor", help="who asks (default: your login name)")
        command.add_argument(
            "--local",
            action="store_true",
            help="run the promotion in this process instead of through the webserver",
        )
        command.add_argument("--definitions", help=f"{DEFINITIONS_HELP}, for --local")
        command.add_argument(
            "--wait",
            action="store_true",
            help="follow the run to its end; exit 0 only if the Freight was promoted",
        )
        command.set_defaults(handler=handler)
    promote.add_argument("--freight", required=True, help=FREIGHT_HELP)
    rollback.add_argument(
        "--to", help=f"the Freight to go back to (default: the previous one); {FREIGHT_FORMS}"
    )

    hold = commands.add_parser(
        "hold", help="show, or with --lift end, a Stage's auto-promotion hold"
    )
    hold.add_argument("--path", help=PATH_HELP)
    hold.add_argument("--project", help="the Project (optional when there is one)")
    hold.add_argument("--stage", required=True)
    hold.add_argument("--lift", action="store_true", help="lift the hold")
    hold.add_argument("--actor", help="who lifts it (default: your login name)")
    hold.set_defaults(handler=_hold)

    verify = commands.add_parser(
        "verify", help="run a Stage's health and verified checks again for its Freight"
    )
    verify.add_argument("--path", help=PATH_HELP)
    verify.add_argument("--definitions", help=DEFINITIONS_HELP)
    verify.add_argument("--project", help="the Project (optional when there is one)")
    verify.add_argument("--stage", required=True)
    verify.add_argument(
        "--freight", help=f"the Freight (default: the current one); {FREIGHT_FORMS}"
    )
    verify.add_argument("--actor", help="who asks (default: your login name)")
    verify.set_defaults(handler=_verify)

    add_doctor(commands)

    demo = commands.add_parser("demo", help="run the Dagster webserver and daemon on the example")
    demo.add_argument("--workspace", help="the workspace (default: the project's)")
    demo.add_argument(
        "--home", help="the demo's DAGSTER_HOME (default: .dagster-demo in the project)"
    )
    demo.add_argument("--port", type=int, default=3000)
    demo.add_argument(
        "--publish-every",
        type=float,
        default=60,
        metavar="SECONDS",
        help=(
            "publish a new guestbook version this often (0: nothing after v0.2.0); v0.3.0 "
            "ships broken, and its fix v0.4.0 follows ten minutes later"
        ),
    )
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except ManifestError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    except KargoDagsterError as error:
        print(f"kargo-dagster: {error}", file=sys.stderr)
        return 1


def entry() -> None:
    """The ``kargo-dagster`` console script: :func:`main`, then leave at once.

    Everything a command writes is stored before it returns, and its output is flushed here;
    an ordinary interpreter exit would then spend longer than most commands take tearing down
    the hundreds of modules Dagster loads.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()

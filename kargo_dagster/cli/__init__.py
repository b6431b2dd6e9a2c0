"""The ``kargo-dagster`` command line.

``validate`` needs only the manifest model and starts without Dagster; the other commands
read or write the Dagster instance named by ``DAGSTER_HOME``.
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kargo_dagster.cli import arguments
from kargo_dagster.cli.doctor import add_doctor
from kargo_dagster.cli.freight_commands import add_freight_commands
from kargo_dagster.cli.project_root import find_root, load_defs
from kargo_dagster.cli.promotion import add_promotion_commands
from kargo_dagster.cli.receive import add_receive_commands
from kargo_dagster.errors import KargoDagsterError, ManifestError, ManifestProblem
from kargo_dagster.spec import load_manifests
from kargo_dagster.spec.diagnostics import did_you_mean


def _validate(args: argparse.Namespace) -> int:
    warnings: list[ManifestProblem] = []
    try:
        catalog = load_manifests(args.path, warnings=warnings)
    except ManifestError as error:
        _print_warnings(warnings)
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    _print_warnings(warnings)
    from kargo_dagster.promotion.static_checks import check_catalog

    # What each object says is fine; now what a promotion would stop at once started.
    problems = check_catalog(catalog)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    for project in catalog.projects.values():
        print(
            f"Project {project.name}: {len(project.warehouses)} Warehouse(s), "
            f"{len(project.stages)} Stage(s), {len(project.promotion_tasks)} PromotionTask(s)"
        )
    return 0


def _print_warnings(warnings: list[ManifestProblem]) -> None:
    # "file:line: warning: ..." as compilers write it, so editors jump to the line.
    for warning in warnings:
        place = f"{warning.file}:{warning.line}: "
        print(f"{place}warning: {str(warning).removeprefix(place)}", file=sys.stderr)


def _discover(args: argparse.Namespace) -> int:
    from kargo_dagster.discovery.report import render_discoveries
    from kargo_dagster.discovery.warehouse import discover_warehouse

    catalog = load_manifests(args.path)
    subscribers = arguments.subscribers(args)
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
    from kargo_dagster.defs.status_report import collect_status, render_status_table

    catalog = arguments.manifests(args)
    with arguments.instance() as instance:
        report = collect_status(instance, catalog)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_status_table(report))
    return 0


def _history(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.history import collect_history, render_history

    project, _ = arguments.project_and_stage(args)
    with arguments.instance() as instance:
        rows = collect_history(instance, project.name, args.stage, limit=args.limit)
    print(json.dumps(rows, indent=2) if args.json else render_history(args.stage, rows))
    return 0


def _approve(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.approvals import approve_freight
    from kargo_dagster.defs.freight_lookup import resolve_freight

    project, _ = arguments.project_and_stage(args)
    actor = arguments.actor(args)
    with arguments.instance() as instance:
        freight = resolve_freight(instance, project, stage=args.stage, given=args.freight)
        approve_freight(instance, project, stage=args.stage, partition_key=freight, actor=actor)
    print(f"Freight {freight} approved for Stage {args.stage} by {actor}")
    return 0


def _hold(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from kargo_dagster.defs.holds import current_hold, lift_hold
    from kargo_dagster.defs.names import stage_asset_key

    project, stage = arguments.project_and_stage(args)
    with arguments.instance() as instance:
        for request in stage.spec.requested_freight:
            key = stage_asset_key(project, args.stage, request.origin.name)
            if args.lift:
                actor = arguments.actor(args)
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

    project, _ = arguments.project_and_stage(args)
    actor = arguments.actor(args)
    with arguments.instance() as instance:
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


def _demo(args: argparse.Namespace) -> int:
    from kargo_dagster.demo.run import run_demo

    return run_demo(
        workspace=Path(args.workspace) if args.workspace else find_root().workspace(),
        home=Path(args.home) if args.home else find_root().path / ".dagster-demo",
        port=args.port,
        publish_every=args.publish_every,
    )


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
    arguments.add_discovery_arguments(discover)
    discover.set_defaults(handler=_discover)

    status = commands.add_parser("status", help="which Freight each Stage holds")
    status.add_argument("--path", help=arguments.PATH_HELP)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_status)

    history = commands.add_parser("history", help="a Stage's promotions, newest first")
    arguments.add_stage_arguments(history)
    history.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=_history)

    approve = commands.add_parser("approve", help="make Freight available to a Stage")
    arguments.add_stage_arguments(approve)
    approve.add_argument("--freight", required=True, help=arguments.FREIGHT_HELP)
    approve.add_argument("--actor", help="who approves (default: your login name)")
    approve.set_defaults(handler=_approve)

    add_promotion_commands(commands)

    hold = commands.add_parser(
        "hold", help="show, or with --lift end, a Stage's auto-promotion hold"
    )
    arguments.add_stage_arguments(hold)
    hold.add_argument("--lift", action="store_true", help="lift the hold")
    hold.add_argument("--actor", help="who lifts it (default: your login name)")
    hold.set_defaults(handler=_hold)

    verify = commands.add_parser(
        "verify", help="run a Stage's health and verified checks again for its Freight"
    )
    arguments.add_stage_arguments(verify)
    verify.add_argument("--definitions", help=arguments.DEFINITIONS_HELP)
    verify.add_argument(
        "--freight", help=f"the Freight (default: the current one); {arguments.FREIGHT_FORMS}"
    )
    verify.add_argument("--actor", help="who asks (default: your login name)")
    verify.set_defaults(handler=_verify)

    add_doctor(commands)
    add_freight_commands(commands)
    add_receive_commands(commands)

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

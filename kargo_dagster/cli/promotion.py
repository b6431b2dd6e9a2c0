"""``kargo-dagster promote`` and ``rollback``: a promotion run, refused up front when the
Stage's gate would refuse it, launched through the webserver (or run here with ``--local``),
and with ``--wait`` followed to its end."""

import argparse
import shlex
import sys
from typing import TYPE_CHECKING

from kargo_dagster.cli import arguments
from kargo_dagster.cli.project_root import load_defs
from kargo_dagster.errors import PromotionRefusedError
from kargo_dagster.protection import PROMOTERS_ANNOTATION, Actor, refusal

if TYPE_CHECKING:
    from dagster import DagsterInstance

__all__ = ["add_promotion_commands"]


def add_promotion_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    """Add ``promote`` and ``rollback`` to the command line's subcommands."""
    promote = commands.add_parser(
        "promote", help="promote Freight into a Stage through the running Dagster webserver"
    )
    rollback = commands.add_parser(
        "rollback", help="promote a Stage's previous Freight (or --to) again, as a rollback"
    )
    for command, handler in ((promote, _promote), (rollback, _rollback)):
        arguments.add_stage_arguments(command)
        command.add_argument(
            "--url",
            default=arguments.DEFAULT_WEBSERVER,
            help=f"the webserver (default {arguments.DEFAULT_WEBSERVER})",
        )
        command.add_argument("--actor", help="who asks (default: your login name)")
        command.add_argument(
            "--local",
            action="store_true",
            help="run the promotion in this process instead of through the webserver",
        )
        command.add_argument("--definitions", help=f"{arguments.DEFINITIONS_HELP}, for --local")
        command.add_argument(
            "--wait",
            action="store_true",
            help="follow the run to its end; exit 0 only if the Freight was promoted",
        )
        command.set_defaults(handler=handler)
    promote.add_argument("--freight", required=True, help=arguments.FREIGHT_HELP)
    rollback.add_argument(
        "--to",
        help=f"the Freight to go back to (default: the previous one); {arguments.FREIGHT_FORMS}",
    )


def _promote(args: argparse.Namespace) -> int:
    return _launch(args, action="promote", freight=args.freight)


def _rollback(args: argparse.Namespace) -> int:
    return _launch(args, action="rollback", freight=args.to)


def _launch(args: argparse.Namespace, *, action: str, freight: str | None) -> int:
    # ``action`` is an Action's value: Dagster's layer (names.Action) loads only from here.
    from kargo_dagster.cli.dagster_webserver import DagsterWebserver
    from kargo_dagster.defs.freight_lookup import resolve_freight
    from kargo_dagster.defs.names import (
        HEALTH_CHECK,
        TAG_ACTION,
        VERIFIED_CHECK,
        Action,
        stage_asset_key,
        stage_job_name,
    )
    from kargo_dagster.defs.promotion_targets import promote_here, promotion_target, stage_gate
    from kargo_dagster.defs.run_failures import failure_reasons
    from kargo_dagster.defs.stage_pools import ensure_stage_pools

    project, _ = arguments.project_and_stage(args)
    actor = arguments.actor(args)
    rollback = Action(action) == Action.ROLLBACK
    verb = "rolling back Stage" if rollback else "promoting Freight"
    # A name given here is self-declared: it never opens a protected Stage.
    protected = refusal(
        args.stage,
        project.stages[args.stage].metadata.annotations,
        PROMOTERS_ANNOTATION,
        Actor(actor, authenticated=False),
    )
    if protected is not None:
        raise PromotionRefusedError(f"{protected}\n  Nothing was launched.")
    with arguments.instance() as instance:
        ensure_stage_pools(instance, project)
        if freight is not None:
            freight = resolve_freight(instance, project, stage=args.stage, given=freight)
        key, freight = promotion_target(
            instance, project, stage=args.stage, freight=freight, rollback=rollback
        )
        # The Stage asset's own gate, asked now: Kargo offers no way to promote Freight that
        # is not available (approval is the way), so neither does this command.
        [request] = [
            r
            for r in project.stages[args.stage].spec.requested_freight
            if stage_asset_key(project, args.stage, r.origin.name) == key
        ]
        availability, _ = stage_gate(
            instance, project, stage=args.stage, request=request, freight=freight
        )
        if not availability.available:
            raise PromotionRefusedError(
                f"{availability.reason}\n  Nothing was launched. To approve it: "
                + _command("approve", args, "--stage", args.stage, "--freight", freight)
            )
        what = f"{args.stage} to {freight}" if rollback else f"{freight} into {args.stage}"
        tags = {
            "kargo/project": project.name,
            "kargo/stage": args.stage,
            "kargo/freight": freight,
            TAG_ACTION: action,
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
                job=stage_job_name(key, "promote"),
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


def _command(name: str, args: argparse.Namespace, *options: str) -> str:
    """The ``kargo-dagster`` command line that does ``name`` on what ``args`` chose."""
    chosen = [("--path", args.path), ("--project", args.project)]
    words = [name, *(w for flag, value in chosen if value for w in (flag, value)), *options]
    return shlex.join(["kargo-dagster", *words])

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

from kargo_dagster.errors import KargoDagsterError, ManifestError
from kargo_dagster.spec import Catalog, ProjectManifests, load_manifests
from kargo_dagster.spec.diagnostics import did_you_mean

DEFAULT_PATH = "stages"
DEFAULT_WEBSERVER = "http://127.0.0.1:3000"


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
        raise KargoDagsterError(f"no Warehouse matches in {args.path}")
    if args.json:
        print(json.dumps(report, indent=2))
    return 1 if failed else 0


def _status(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.status import collect_status, render_status_table

    with _instance() as instance:
        report = collect_status(instance, load_manifests(args.path))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_status_table(report))
    return 0


def _history(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.history import collect_history, render_history

    project = _project(load_manifests(args.path), args.project)
    _check_stage(project, args.stage)
    with _instance() as instance:
        rows = collect_history(instance, project.name, args.stage, limit=args.limit)
    print(json.dumps(rows, indent=2) if args.json else render_history(args.stage, rows))
    return 0


def _approve(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.approvals import approve_freight

    project = _project(load_manifests(args.path), args.project)
    _check_stage(project, args.stage)
    actor = _actor(args)
    with _instance() as instance:
        approve_freight(
            instance, project, stage=args.stage, partition_key=args.freight, actor=actor
        )
    print(f"Freight {args.freight} approved for Stage {args.stage} by {actor}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    return _launch(args, action="promote", freight=args.freight)


def _rollback(args: argparse.Namespace) -> int:
    return _launch(args, action="rollback", freight=args.to)


def _launch(args: argparse.Namespace, *, action: str, freight: str | None) -> int:
    from kargo_dagster.clients.dagster_webserver import DagsterWebserver
    from kargo_dagster.defs.names import HEALTH_CHECK, VERIFIED_CHECK
    from kargo_dagster.defs.promotion_targets import promote_here, promotion_target
    from kargo_dagster.defs.run_failures import failure_reasons
    from kargo_dagster.defs.stage_pools import ensure_stage_pools

    project = _project(load_manifests(args.path), args.project)
    _check_stage(project, args.stage)
    actor = _actor(args)
    verb = "rolling back Stage" if action == "rollback" else "promoting Freight"
    with _instance() as instance:
        ensure_stage_pools(instance, project)
        key, freight = promotion_target(
            instance, project, stage=args.stage, freight=freight, rollback=action == "rollback"
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
            result = promote_here(_load_defs(args.definitions), instance, key, freight, tags)
            outcome = "succeeded" if result.success else "failed"
            print(f"Run {result.run_id} {verb} {what} {outcome}")
            for failure in failure_reasons(instance, result.run_id):
                print(f"  {failure}")
            return 0 if result.success else 1
    with DagsterWebserver(args.url) as webserver:
        run = webserver.launch_partition(
            key.path, freight, checks=(HEALTH_CHECK, VERIFIED_CHECK), tags=tags
        )
    print(f"Launched run {run.run_id} {verb} {what}: {run.url}")
    return 0


def _hold(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from kargo_dagster.defs.holds import current_hold, lift_hold
    from kargo_dagster.defs.names import stage_asset_key

    project = _project(load_manifests(args.path), args.project)
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
    from kargo_dagster.defs.reverification import reverify

    project = _project(load_manifests(args.path), args.project)
    _check_stage(project, args.stage)
    defs = _load_defs(args.definitions)
    actor = _actor(args)
    with _instance() as instance:
        freight, outcomes = reverify(
            defs, instance, project, stage=args.stage, partition_key=args.freight, actor=actor
        )
    for outcome in outcomes:
        verdict = "passed" if outcome.passed else "failed"
        print(f"{outcome.check} {verdict}: {outcome.description}")
    passed = len(outcomes) == 2 and all(o.passed for o in outcomes)
    print(f"Freight {freight} in Stage {args.stage}: {'verified' if passed else 'not verified'}")
    return 0 if passed else 1


def _doctor(args: argparse.Namespace) -> int:
    from kargo_dagster.deployment_checks import (
        Finding,
        check_helm_values,
        check_instance,
        check_secrets,
        secrets_named,
    )

    catalog = load_manifests(args.path)
    pools = [
        f"kargo/{project.name}/{stage}"
        for project in catalog.projects.values()
        for stage in sorted(project.stages)
    ]
    findings: list[Finding] = [
        Finding("ok", args.path, f"{len(catalog.projects)} Project(s), {len(pools)} Stage(s)")
    ]
    home = os.environ.get("DAGSTER_HOME")
    instance_file = args.instance or (str(Path(home) / "dagster.yaml") if home else None)
    if instance_file is not None:
        config = _yaml_file(instance_file)
        limits = _pool_limits(findings) if not args.instance else {}
        findings += check_instance(config, instance_file, pools=pools, pool_limits=limits)
    elif args.values is None:
        raise KargoDagsterError(
            "nothing to check: set DAGSTER_HOME, or give --instance dagster.yaml or --values"
        )
    if args.values is not None:
        values = _yaml_file(args.values)
        findings += check_helm_values(values, args.values)
        if args.namespace:
            findings += check_secrets(
                secrets_named(values), args.namespace, _secret_exists(), args.values
            )
    for finding in findings:
        print(finding)
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    print(f"{errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def _yaml_file(path: str) -> dict:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as error:
        raise KargoDagsterError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise KargoDagsterError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise KargoDagsterError(f"{path}: expected a mapping at the top")
    return data


def _pool_limits(findings: list) -> dict[str, int]:
    """Limits set on single pools in the instance ``DAGSTER_HOME`` names, if it can be read."""
    from kargo_dagster.defs.dagster_internals import pool_limits
    from kargo_dagster.deployment_checks import Finding

    try:
        with _instance() as instance:
            return pool_limits(instance)
    except KargoDagsterError as error:
        findings.append(Finding("warning", "instance", f"pool limits not read: {error}"))
        return {}


def _secret_exists():  # -> Callable[[str, str], bool]
    import kubernetes

    from kargo_dagster.defs.kube_connections import deployment_api_client

    core = kubernetes.client.CoreV1Api(deployment_api_client())

    def exists(namespace: str, name: str) -> bool:
        try:
            core.read_namespaced_secret(name, namespace)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return False
            raise KargoDagsterError(
                f"cannot read Secret {namespace}/{name} (Kubernetes API answered "
                f"{error.status} {error.reason})"
            ) from None
        return True

    return exists


def _load_defs(path: str):  # -> dg.Definitions
    """The ``defs`` of the code location file ``path`` (as ``dagster dev -f`` would load it)."""
    import importlib.util

    import dagster as dg

    file = Path(path).resolve()
    if not file.is_file():
        raise KargoDagsterError(f"no definitions file {path}: give --definitions")
    spec = importlib.util.spec_from_file_location("kargo_dagster_user_definitions", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    defs = getattr(module, "defs", None)
    if not isinstance(defs, dg.Definitions):
        raise KargoDagsterError(f"{path} defines no `defs = dg.Definitions(...)`")
    return defs


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
        workspace=Path(args.workspace),
        home=Path(args.home),
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
    status.add_argument("--path", default=DEFAULT_PATH, help="the Kargo manifests")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_status)

    history = commands.add_parser("history", help="a Stage's promotions, newest first")
    history.add_argument("--path", default=DEFAULT_PATH, help="the Kargo manifests")
    history.add_argument("--project", help="the Project (optional when there is one)")
    history.add_argument("--stage", required=True)
    history.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=_history)

    approve = commands.add_parser("approve", help="make Freight available to a Stage")
    approve.add_argument("--path", default=DEFAULT_PATH, help="the Kargo manifests")
    approve.add_argument("--project", help="the Project (optional when there is one)")
    approve.add_argument("--stage", required=True)
    approve.add_argument("--freight", required=True, help="the Freight's partition key")
    approve.add_argument("--actor", help="who approves (default: your login name)")
    approve.set_defaults(handler=_approve)

    promote = commands.add_parser(
        "promote", help="promote Freight into a Stage through the running Dagster webserver"
    )
    rollback = commands.add_parser(
        "rollback", help="promote a Stage's previous Freight (or --to) again, as a rollback"
    )
    for command, handler in ((promote, _promote), (rollback, _rollback)):
        command.add_argument("--path", default=DEFAULT_PATH, help="the Kargo manifests")
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
        command.add_argument(
            "--definitions",
            default="definitions.py",
            help="the code location file, for --local (default definitions.py)",
        )
        command.set_defaults(handler=handler)
    promote.add_argument("--freight", required=True, help="the Freight's partition key")
    rollback.add_argument("--to", help="the Freight to go back to (default: the previous one)")

    hold = commands.add_parser(
        "hold", help="show, or with --lift end, a Stage's auto-promotion hold"
    )
    hold.add_argument("--path", default=DEFAULT_PATH, help="the Kargo manifests")
    hold.add_argument("--project", help="the Project (optional when there is one)")
    hold.add_argument("--stage", required=True)
    hold.add_argument("--lift", action="store_true", help="lift the hold")
    hold.add_argument("--actor", help="who lifts it (default: your login name)")
    hold.set_defaults(handler=_hold)

    verify = commands.add_parser(
        "verify", help="run a Stage's health and verified checks again for its Freight"
    )
    verify.add_argument("--path", default=DEFAULT_PATH, help="the Kargo manifests")
    verify.add_argument(
        "--definitions", default="definitions.py", help="the code location file (its `defs`)"
    )
    verify.add_argument("--project", help="the Project (optional when there is one)")
    verify.add_argument("--stage", required=True)
    verify.add_argument("--freight", help="the Freight's partition key (default: the current one)")
    verify.add_argument("--actor", help="who asks (default: your login name)")
    verify.set_defaults(handler=_verify)

    doctor = commands.add_parser(
        "doctor",
        help="check a deployment: instance settings, Helm values and their Secrets",
        description=(
            "Check what promotions rely on: one shared database, every Stage's pool limited "
            "to 1, run queue and monitoring, and the Secrets the Helm values name. Reads "
            "$DAGSTER_HOME/dagster.yaml (or --instance) and --values; with --namespace, asks "
            "the cluster whether the Secrets exist."
        ),
    )
    doctor.add_argument("--path", default=DEFAULT_PATH, help="the Kargo manifests")
    doctor.add_argument("--instance", help="a dagster.yaml (default: $DAGSTER_HOME/dagster.yaml)")
    doctor.add_argument("--values", help="values for Dagster's Helm chart")
    doctor.add_argument(
        "--namespace", help="the Helm release's namespace: check that its Secrets exist"
    )
    doctor.set_defaults(handler=_doctor)

    demo = commands.add_parser("demo", help="run the Dagster webserver and daemon on the example")
    demo.add_argument("--workspace", default="workspace.yaml")
    demo.add_argument("--home", default=".dagster-demo", help="the demo's DAGSTER_HOME")
    demo.add_argument("--port", type=int, default=3000)
    demo.add_argument(
        "--publish-every",
        type=float,
        default=60,
        metavar="SECONDS",
        help="publish a new guestbook version this often (0: never; v0.3.0 ships broken)",
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

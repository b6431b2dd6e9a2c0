"""``kargo-dagster doctor``: checks a deployment's settings before promotions rely on them.

Kept apart from :mod:`kargo_dagster.cli` because it reads other things (Helm values, the
cluster's Secrets) with checks of its own (:mod:`kargo_dagster.deployment_checks`).
"""

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from kargo_dagster.cli import arguments
from kargo_dagster.cli.project_root import find_root
from kargo_dagster.deployment_checks import Finding
from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.spec import load_manifests

__all__ = ["add_doctor", "doctor"]


def add_doctor(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the ``doctor`` command to the command line's subcommands."""
    command = commands.add_parser(
        "doctor",
        help="check a deployment: instance settings, Helm values and their Secrets",
        description=(
            "Check what promotions rely on: one shared database, every Stage's pool limited "
            "to 1, run queue and monitoring, and the Secrets the Helm values name. Reads "
            "$DAGSTER_HOME/dagster.yaml (or --instance) and --values; with --namespace, asks "
            "the cluster whether the Secrets exist."
        ),
    )
    command.add_argument("--path", help=arguments.PATH_HELP)
    command.add_argument("--instance", help="a dagster.yaml (default: $DAGSTER_HOME/dagster.yaml)")
    command.add_argument("--values", help="values for Dagster's Helm chart")
    command.add_argument(
        "--namespace", help="the Helm release's namespace: check that its Secrets exist"
    )
    command.set_defaults(handler=doctor)


def doctor(args: argparse.Namespace) -> int:
    """Run ``kargo-dagster doctor``; returns the exit status (1 when a check failed)."""
    from kargo_dagster.deployment_checks import (
        check_helm_values,
        check_instance,
        check_secrets,
        pool_name,
        secrets_named,
    )

    path = args.path or str(find_root().manifests())
    catalog = load_manifests(path)
    pools = [
        pool_name(project.name, stage)
        for project in catalog.projects.values()
        for stage in sorted(project.stages)
    ]
    findings: list[Finding] = [
        Finding("ok", path, f"{len(catalog.projects)} Project(s), {len(pools)} Stage(s)")
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


def _pool_limits(findings: list[Finding]) -> dict[str, int]:
    """Limits set on single pools in the instance ``DAGSTER_HOME`` names, if it can be read."""
    from kargo_dagster.defs.dagster_internals import pool_limits

    try:
        with arguments.instance() as instance:
            return pool_limits(instance)
    except KargoDagsterError as error:
        findings.append(Finding("warning", "instance", f"pool limits not read: {error}"))
        return {}


def _secret_exists() -> Callable[[str, str], bool]:
    import kubernetes

    from kargo_dagster.defs.kube_connections import deployment_api_client

    core = kubernetes.client.CoreV1Api(deployment_api_client())

    def exists(namespace: str, name: str) -> bool:
        try:
            core.read_namespaced_secret(name, namespace, _request_timeout=10)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return False
            raise KargoDagsterError(
                f"cannot read Secret {namespace}/{name} (Kubernetes API answered "
                f"{error.status} {error.reason})"
            ) from None
        return True

    return exists

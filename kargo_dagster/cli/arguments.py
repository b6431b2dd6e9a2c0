"""What the command line's arguments name, shared by its commands: the manifests (found
from the current directory when not given), the Project, the Stage or Warehouse, how
discovery reads repositories, who acts, and the Dagster instance."""

import argparse
import getpass
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from kargo_dagster.cli.project_root import find_root
from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.spec import Catalog, ProjectManifests, Stage, Warehouse, load_manifests
from kargo_dagster.spec.diagnostics import did_you_mean

if TYPE_CHECKING:
    from kargo_dagster.discovery.warehouse import Subscribers

T = TypeVar("T")

__all__ = [
    "DEFAULT_WEBSERVER",
    "DEFINITIONS_HELP",
    "FREIGHT_FORMS",
    "FREIGHT_HELP",
    "PATH_HELP",
    "actor",
    "add_discovery_arguments",
    "add_stage_arguments",
    "instance",
    "manifests",
    "project",
    "project_and_stage",
    "subscribers",
    "warehouse",
]

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


def manifests(args: argparse.Namespace) -> Catalog:
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


def _named(project: ProjectManifests, kind: str, found: Mapping[str, T], name: str) -> T:
    item = found.get(name)
    if item is None:
        hint = did_you_mean(name, found)
        names = ", ".join(sorted(found)) or "none"
        raise KargoDagsterError(f"Project {project.name} has no {kind} {name}{hint} ({names})")
    return item


def _stage(project: ProjectManifests, name: str) -> Stage:
    return _named(project, "Stage", project.stages, name)


def warehouse(project: ProjectManifests, name: str) -> Warehouse:
    """The Project's Warehouse ``name``.

    Raises:
        KargoDagsterError: There is none; the message suggests a close name and lists them.
    """
    return _named(project, "Warehouse", project.warehouses, name)


def add_discovery_arguments(command: argparse.ArgumentParser) -> None:
    """``--work-dir`` and ``--insecure-registry``: what :func:`subscribers` reads."""
    command.add_argument("--work-dir", help="where git mirrors are kept")
    command.add_argument(
        "--insecure-registry",
        action="append",
        metavar="HOST[:PORT]",
        help="a registry to reach over plain HTTP (loopback registries always are)",
    )


def subscribers(args: argparse.Namespace) -> "Subscribers":
    """How discovery reads repositories from the command line: credentials (and SSH known
    hosts) from the environment, git mirrors in ``--work-dir``, and the
    ``--insecure-registry`` hosts."""
    from kargo_dagster.clients.credential_exchange import (
        ExchangingCredentialStore,
        cloud_identity_from_env,
    )
    from kargo_dagster.credentials import credentials_from_env
    from kargo_dagster.discovery.subscribers import build_subscribers, default_work_dir
    from kargo_dagster.ssh_known_hosts import KnownHostsCredentialStore, known_hosts_from_env

    # The same rules the kargo resource applies to what it reads from the environment.
    known_hosts = known_hosts_from_env(os.environ)
    credentials = ExchangingCredentialStore(
        KnownHostsCredentialStore(credentials_from_env(os.environ), known_hosts),
        cloud_identity=cloud_identity_from_env(os.environ),
    )
    return build_subscribers(
        credentials=credentials,
        work_dir=Path(args.work_dir) if args.work_dir else default_work_dir(),
        insecure_registries=args.insecure_registry or [],
    )


def add_stage_arguments(command: argparse.ArgumentParser) -> None:
    """``--path``, ``--project`` and ``--stage``: what :func:`project_and_stage` reads."""
    command.add_argument("--path", help=PATH_HELP)
    command.add_argument("--project", help="the Project (optional when there is one)")
    command.add_argument("--stage", required=True)


def project_and_stage(args: argparse.Namespace) -> tuple[ProjectManifests, Stage]:
    """The Project and Stage that ``--path``, ``--project`` and ``--stage`` name."""
    project = _project(manifests(args), args.project)
    return project, _stage(project, args.stage)


def project(args: argparse.Namespace) -> ProjectManifests:
    """The Project that ``--path`` and ``--project`` name (``--project`` is optional when the
    manifests hold one Project)."""
    return _project(manifests(args), args.project)


def actor(args: argparse.Namespace) -> str:
    """Who acts: ``--actor``, else the operating system's login name (never "unknown")."""
    if args.actor:
        return args.actor
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        # No login name in the environment and none in the password database (a container
        # running under an arbitrary uid): the uid still says who.
        return f"uid:{os.getuid()}"


def instance():  # -> contextmanager of a DagsterInstance
    """The Dagster instance ``DAGSTER_HOME`` names (imported on use: most commands need
    no Dagster)."""
    from kargo_dagster.defs.instance_access import open_instance

    return open_instance()

"""What the command line's arguments name, shared by its commands: the manifests (found
from the current directory when not given), the Project, the Stage, who acts, and the
Dagster instance."""

import argparse
import getpass
import os

from kargo_dagster.cli.project_root import find_root
from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.spec import Catalog, ProjectManifests, Stage, load_manifests
from kargo_dagster.spec.diagnostics import did_you_mean

__all__ = [
    "DEFAULT_WEBSERVER",
    "DEFINITIONS_HELP",
    "FREIGHT_FORMS",
    "FREIGHT_HELP",
    "PATH_HELP",
    "actor",
    "add_stage_arguments",
    "instance",
    "manifests",
    "project_and_stage",
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


def _stage(project: ProjectManifests, name: str) -> Stage:
    stage = project.stages.get(name)
    if stage is None:
        hint = did_you_mean(name, project.stages)
        names = ", ".join(sorted(project.stages)) or "none"
        raise KargoDagsterError(f"Project {project.name} has no Stage {name}{hint} ({names})")
    return stage


def add_stage_arguments(command: argparse.ArgumentParser) -> None:
    """``--path``, ``--project`` and ``--stage``: what :func:`project_and_stage` reads."""
    command.add_argument("--path", help=PATH_HELP)
    command.add_argument("--project", help="the Project (optional when there is one)")
    command.add_argument("--stage", required=True)


def project_and_stage(args: argparse.Namespace) -> tuple[ProjectManifests, Stage]:
    """The Project and Stage that ``--path``, ``--project`` and ``--stage`` name."""
    project = _project(manifests(args), args.project)
    return project, _stage(project, args.stage)


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

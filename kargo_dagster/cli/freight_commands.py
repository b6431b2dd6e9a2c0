"""``kargo-dagster freight``: create Freight by hand, change its alias, and list it.

``freight create`` runs discovery for one Warehouse and records the Freight of the versions
chosen (each other subscription's newest), as Kargo's "assemble Freight" does, for a Warehouse
whose ``freightCreationPolicy`` is Manual or not; ``--clone`` starts from the versions an
existing Freight holds (Kargo's "clone Freight"). ``freight alias`` renames Freight, keeping
aliases unique within the Project. ``freight list`` shows a Warehouse's Freight, newest first.
"""

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kargo_dagster.cli import arguments
from kargo_dagster.errors import FreightError
from kargo_dagster.spec import ProjectManifests, SubscriptionKind, Warehouse

if TYPE_CHECKING:
    import dagster as dg

    from kargo_dagster.freight import Freight

__all__ = ["add_freight_commands"]

# How many Freight `freight list` shows unless told.
DEFAULT_LISTED = 20


def _create(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.manual_freight import create_freight
    from kargo_dagster.defs.run_tags import shown_name
    from kargo_dagster.discovery.assembly import VersionChoice, cloned_choices
    from kargo_dagster.discovery.warehouse import discover_warehouse
    from kargo_dagster.protection import Actor

    project = arguments.project(args)
    warehouse = arguments.warehouse(project, args.warehouse)
    given: tuple[tuple[SubscriptionKind, list[str] | None], ...] = (
        ("image", args.image),
        ("git", args.commit),
        ("chart", args.chart),
    )
    choices = [VersionChoice.parse(kind, text) for kind, texts in given for text in texts or ()]
    discovery = discover_warehouse(warehouse, arguments.subscribers(args))
    actor = shown_name(Actor(arguments.actor(args), False))
    with arguments.instance() as instance:
        if args.clone:
            source = _recorded(instance, project, warehouse, args.clone)
            choices += cloned_choices(warehouse, source, choices)
        made = create_freight(
            instance, project, warehouse, discovery, choices, alias=args.alias, actor=actor
        )
    versions = ", ".join(made.freight.versions)
    if made.created:
        print(f"Created Freight {made.key} ({versions}; alias {made.alias})")
    else:
        print(f"Freight {made.key} ({versions}; alias {made.alias}) was already recorded")
    return 0


def _recorded(
    instance: "dg.DagsterInstance", project: ProjectManifests, warehouse: Warehouse, given: str
) -> "Freight":
    """The Freight ``given`` names among ``warehouse``'s."""
    from kargo_dagster.defs.freight_lookup import locate_freight
    from kargo_dagster.defs.instance_queries import recorded_freight
    from kargo_dagster.defs.names import warehouse_key

    name = warehouse.metadata.name
    _, key = locate_freight(instance, project, given=given, warehouses=[name])
    found = recorded_freight(instance, warehouse_key(project.name, name), key)
    if found is None:
        raise FreightError(f"Freight {key} of Warehouse {name} has no recorded artifacts")
    return found


def _alias(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.freight_lookup import locate_freight
    from kargo_dagster.defs.manual_freight import rename_freight
    from kargo_dagster.defs.run_tags import shown_name
    from kargo_dagster.protection import Actor

    project = arguments.project(args)
    warehouses = (
        [arguments.warehouse(project, args.warehouse).metadata.name] if args.warehouse else None
    )
    actor = shown_name(Actor(arguments.actor(args), False))
    with arguments.instance() as instance:
        warehouse, key = locate_freight(
            instance, project, given=args.freight, warehouses=warehouses
        )
        rename_freight(instance, project, warehouse, key, args.alias, actor=actor)
    print(f"Freight {key} of Warehouse {warehouse} is now {args.alias}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.dagster_internals import storage_session
    from kargo_dagster.defs.freight_lookup import recorded_freight

    project = arguments.project(args)
    names = [arguments.warehouse(project, args.warehouse).metadata.name] if args.warehouse else None
    warehouses = names or sorted(project.warehouses)
    with arguments.instance() as instance, storage_session(instance) as session:
        recorded = recorded_freight(
            session, project, warehouses, created=True, limit=max(args.limit, 0)
        )
    rows: list[dict[str, Any]] = [
        {
            "warehouse": warehouse,
            "key": found.key,
            "alias": found.alias,
            "id": found.freight.id,
            "versions": list(found.versions),
            "created": (
                datetime.fromtimestamp(found.created, UTC).isoformat(timespec="seconds")
                if found.created is not None
                else None
            ),
        }
        for warehouse in warehouses
        for found in recorded.get(warehouse, [])
    ]
    print(json.dumps(rows, indent=2) if args.json else _render(project.name, warehouses, rows))
    return 0


def _render(project: str, warehouses: list[str], rows: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    header = ("KEY", "ALIAS", "VERSIONS", "CREATED")
    for warehouse in warehouses:
        table = [header] + [
            (
                row["key"],
                row["alias"],
                ", ".join(row["versions"]) or "-",
                (row["created"] or "-").replace("T", " ").replace("+00:00", " UTC"),
            )
            for row in rows
            if row["warehouse"] == warehouse
        ]
        lines.append(f"Warehouse {project}/{warehouse}")
        if len(table) == 1:
            lines += ["  no Freight recorded yet", ""]
            continue
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in table
        ]
        lines.append("")
    return "\n".join(lines).rstrip()


def add_freight_commands(commands: Any) -> None:
    """Add ``freight create``, ``freight alias`` and ``freight list`` to the parser's
    subcommands."""
    freight = commands.add_parser("freight", help="create Freight by hand, rename it, list it")
    verbs = freight.add_subparsers(dest="verb", required=True)

    create = verbs.add_parser(
        "create",
        help="record Freight of chosen discovered versions (each other subscription's newest)",
    )
    _add_project_arguments(create)
    create.add_argument("--warehouse", required=True)
    for option, kind, version in (
        ("--image", "REPO", "TAG"),
        ("--commit", "REPO", "REF"),
        ("--chart", "REPO[/NAME]", "VERSION"),
    ):
        create.add_argument(
            option,
            action="append",
            metavar=f"{kind}={version}",
            help=(
                f"the {version.lower()} to take from a subscription, named by its repository, "
                "its name or subscriptions[N] (default: the newest discovered); repeatable"
            ),
        )
    create.add_argument(
        "--clone",
        metavar="FREIGHT",
        help=(
            "start from the versions this Freight holds (Kargo's clone); --image, --commit "
            f"and --chart change some of them; {arguments.FREIGHT_FORMS}"
        ),
    )
    create.add_argument("--alias", help="the Freight's alias (default: derived from its ID)")
    create.add_argument("--actor", help="who creates it (default: your login name)")
    arguments.add_discovery_arguments(create)
    create.set_defaults(handler=_create)

    alias = verbs.add_parser("alias", help="give Freight a new alias, unique in its Project")
    _add_project_arguments(alias)
    alias.add_argument("--freight", required=True, help=arguments.FREIGHT_HELP)
    alias.add_argument("--alias", required=True, help="the new alias")
    alias.add_argument("--warehouse", help="only look among this Warehouse's Freight")
    alias.add_argument("--actor", help="who renames it (default: your login name)")
    alias.set_defaults(handler=_alias)

    listing = verbs.add_parser("list", help="Freight with alias and versions, newest first")
    _add_project_arguments(listing)
    listing.add_argument("--warehouse", help="only this Warehouse (default: all)")
    listing.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LISTED,
        help=f"how many per Warehouse (default {DEFAULT_LISTED})",
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)


def _add_project_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--path", help=arguments.PATH_HELP)
    command.add_argument("--project", help="the Project (optional when there is one)")

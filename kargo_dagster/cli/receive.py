"""``kargo-dagster refresh`` and ``kargo-dagster receive``: discovery now, and on webhooks.

``refresh`` runs one Warehouse's discovery at once and records new Freight in the instance
``DAGSTER_HOME`` names, as its sensor would. ``receive`` serves the webhook receivers of the
ProjectConfigs and of the ClusterConfig (``--print-urls`` lists their URLs and exits). Both use
the ``kargo`` resource of the code location given with ``--definitions`` (its credentials, work
directory and registries), else the default resource, which reads ``KARGO_DAGSTER_CREDS_*``
variables.
"""

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from kargo_dagster.cli import arguments
from kargo_dagster.errors import ManifestProblem

if TYPE_CHECKING:
    from kargo_dagster.defs.resources import KargoResource
    from kargo_dagster.webhooks.receivers import Receiver, SecretSource

__all__ = ["add_receive_commands"]

DEFAULT_PORT = 8080


def _kargo_resource(args: argparse.Namespace) -> "KargoResource":
    from kargo_dagster.defs.refresh import kargo_resource_of
    from kargo_dagster.defs.resources import KargoResource

    if args.definitions:
        from kargo_dagster.cli.project_root import load_defs

        return kargo_resource_of(load_defs(args.definitions))
    return KargoResource(
        work_dir=args.work_dir or "", insecure_registries=args.insecure_registry or []
    )


def _refresh(args: argparse.Namespace) -> int:
    from kargo_dagster.defs.refresh import refresh_warehouses
    from kargo_dagster.discovery.report import render_discoveries

    project = arguments.project(args)
    kargo = _kargo_resource(args)
    with arguments.instance() as instance:
        results = refresh_warehouses(instance, kargo, project, args.warehouse)
    if args.json:
        report = [
            {
                "project": r.project,
                **r.discovery.to_json(),
                "recorded": r.recorded,
                "message": r.message,
            }
            for r in results
        ]
        print(json.dumps(report, indent=2))
    else:
        print(render_discoveries(project.name, [r.discovery for r in results]))
        for result in results:
            print(f"Warehouse {result.warehouse}: {result.message}")
    return 1 if any(r.failed for r in results) else 0


def _secret_source(kargo: "KargoResource") -> "SecretSource":
    from kargo_dagster.webhooks.receivers import (
        ChainedSecrets,
        EnvironmentSecrets,
        KubernetesSecrets,
    )

    if kargo.kubernetes_credentials is None:
        return EnvironmentSecrets()
    from kargo_dagster.defs.kube_connections import credentials_api_client

    client = credentials_api_client(kargo.kubernetes_credentials)
    kube = KubernetesSecrets(client, request_timeout=kargo.request_timeout_seconds)
    return ChainedSecrets([kube, EnvironmentSecrets()])


def _base_url(args: argparse.Namespace) -> str:
    if args.base_url:
        return args.base_url.rstrip("/")
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    return f"http://{host}:{args.port}"


def _print_problems(problems: list[ManifestProblem]) -> None:
    for item in problems:
        place = f"{item.file}:{item.line}: "
        print(f"{place}warning: {str(item).removeprefix(place)}", file=sys.stderr)


def _receive(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    from kargo_dagster.clients.resource_data import SYSTEM_RESOURCES_NAMESPACE
    from kargo_dagster.webhooks.receivers import build_receivers

    catalog = arguments.manifests(args)
    kargo = _kargo_resource(args)
    base_url = _base_url(args)
    settings = kargo.kubernetes_credentials
    receivers, problems = build_receivers(
        catalog.projects.values(),
        _secret_source(kargo),
        urlsplit(base_url).path or "/",
        cluster_config=catalog.cluster_config,
        cluster_namespace=(
            SYSTEM_RESOURCES_NAMESPACE if settings is None else settings.system_resources_namespace
        ),
    )
    _print_problems(problems)
    if args.print_urls:
        parts = urlsplit(base_url)
        for path, receiver in sorted(receivers.items(), key=lambda item: _order(item[1])):
            print(f"{receiver.label}: {parts.scheme}://{parts.netloc}{path}")
        return 1 if problems else 0
    return _serve(args, catalog, kargo, receivers)


def _order(receiver: "Receiver") -> tuple[bool, str]:
    # The ClusterConfig's receivers after every Project's.
    return (receiver.project is None, receiver.label)


def _serve(args: argparse.Namespace, catalog: Any, kargo: "KargoResource", receivers: dict) -> int:
    from kargo_dagster.defs.webhook_receiver import (
        ReceiverService,
        bound_socket,
        build_receiver_app,
        refresh_queue,
        server_for,
    )
    from kargo_dagster.webhooks.targets import SubscriptionIndex

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with arguments.instance() as instance:
        queue = refresh_queue(instance, kargo, catalog)
        service = ReceiverService(
            receivers, catalog, SubscriptionIndex(catalog.projects.values()), queue
        )
        sock = bound_socket(args.host, args.port)
        print(
            f"Serving {len(receivers)} webhook receiver(s) on {args.host}:{args.port} "
            "(list their URLs with --print-urls)",
            flush=True,
        )
        try:
            server_for(build_receiver_app(service)).run(sockets=[sock])
        finally:
            queue.close()
            sock.close()
    return 0


def add_receive_commands(commands: Any) -> None:
    """Register ``refresh`` and ``receive`` with the command line's subcommands."""
    refresh = commands.add_parser(
        "refresh", help="discover a Warehouse's artifacts now and record new Freight"
    )
    refresh.add_argument(
        "--warehouse", required=True, action="append", help="the Warehouse (repeatable)"
    )
    refresh.add_argument("--project", help="the Project (optional when there is one)")
    refresh.add_argument("--path", help=arguments.PATH_HELP)
    refresh.add_argument("--json", action="store_true", help="print JSON")
    _add_resource_arguments(refresh)
    refresh.set_defaults(handler=_refresh)

    receive = commands.add_parser(
        "receive",
        help="serve the ProjectConfigs' and ClusterConfig's webhook receivers (refresh on push)",
    )
    receive.add_argument("--path", help=arguments.PATH_HELP)
    receive.add_argument("--host", default="127.0.0.1", help="address to listen on")
    receive.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8080)")
    receive.add_argument(
        "--base-url",
        help=(
            "the receivers' public URL prefix, as senders reach them (default: "
            "http://HOST:PORT); its path prefixes every receiver's path"
        ),
    )
    receive.add_argument(
        "--print-urls", action="store_true", help="print each receiver's URL and exit"
    )
    _add_resource_arguments(receive)
    receive.set_defaults(handler=_receive)


def _add_resource_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--definitions",
        help="the code location whose kargo resource to use (default: the default resource)",
    )
    # Without --definitions, the default resource with these settings.
    arguments.add_discovery_arguments(command)

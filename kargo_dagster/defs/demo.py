"""``kargo-dagster demo``: the Dagster webserver and daemon over the example manifests.

The demo's instance is the embedded default (SQLite under ``--home``), with every pool limited
to one slot so each Stage promotes one Freight at a time. The webserver and the daemon run as
separate processes in their own process groups, with default signal handling restored, so that
stopping the demo stops both even when it was started from a job that ignores signals.
"""

import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from kargo_dagster.defs.freight_store import record_freight
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.spec import load_manifests

log = logging.getLogger(__name__)

INSTANCE_CONFIG = """\
# Written by `kargo-dagster demo`.
telemetry:
  enabled: false
concurrency:
  pools:
    # One promotion at a time per Stage: every Stage asset has its own pool.
    default_limit: 1
"""


def prepare_home(home: Path) -> Path:
    """Create the demo's DAGSTER_HOME with its ``dagster.yaml``, keeping an existing one."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_CONFIG)
    return home


def seed_sample_freight(home: Path, path: Path) -> list[str]:
    """Record two sample Freight per image Warehouse so the UI has partitions to promote.

    Warehouse sensors discover real Freight; the samples only make the pipeline explorable
    before a registry is configured.
    """
    os.environ["DAGSTER_HOME"] = str(home)
    keys: list[str] = []
    catalog = load_manifests(path)
    with dg.DagsterInstance.get() as instance:
        for project in catalog.projects.values():
            for warehouse in project.warehouses.values():
                images = [s.image for s in warehouse.spec.subscriptions if s.image]
                if not images:
                    continue
                for version in ("v0.1.0", "v0.2.0"):
                    freight = Freight(
                        origin=FreightOrigin(name=warehouse.metadata.name),
                        images=tuple(
                            Image(
                                repo_url=image.repo_url,
                                tag=version,
                                digest="sha256:" + _sample_digest(image.repo_url, version),
                            )
                            for image in images
                        ),
                    )
                    keys.append(record_freight(instance, project.name, freight))
    return keys


def _sample_digest(repo_url: str, version: str) -> str:
    return hashlib.sha256(f"{repo_url}:{version}".encode()).hexdigest()


def run_demo(
    *, workspace: Path, path: Path, home: Path, port: int, sample_freight: bool = True
) -> int:
    """Run the webserver and the daemon until interrupted; returns the exit status."""
    home = prepare_home(home)
    seeded = seed_sample_freight(home, path) if sample_freight else []
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    bin_dir = Path(sys.executable).parent
    webserver = str(bin_dir / "dagster-webserver")
    commands = [
        [webserver, "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
        [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)],
    ]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    # Handlers installed before the children start make them begin with default signal
    # handling (an ignored signal would stay ignored across exec), so SIGTERM stops them.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    processes = [subprocess.Popen(command, env=env, start_new_session=True) for command in commands]
    sys.stdout.write(
        f"kargo-dagster demo: http://127.0.0.1:{port}/asset-groups "
        f"(DAGSTER_HOME={home}; {len(seeded)} sample Freight). Ctrl-C stops it.\n"
    )
    sys.stdout.flush()
    try:
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    failed = [p for p in processes if p.returncode not in (0, -signal.SIGTERM, None)]
    return 0 if stopping or not failed else 1

"""``kargo-dagster demo``: the Dagster webserver and daemon over the example manifests.

The demo's instance is the embedded default (SQLite under ``--home``), with every pool limited
to one slot so each Stage promotes one Freight at a time. A local registry and a local GitOps
repository (``kargo_dagster.testing.demo_services``) stand in for the outside world, so the
Warehouse sensor discovers real Freight and promotions push real commits.

The webserver and the daemon run as separate processes in their own process groups, with
default signal handling restored, so that stopping the demo stops both even when it was
started from a job that ignores signals.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kargo_dagster.testing.demo_services import DemoServices, demo_services

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


def run_demo(*, workspace: Path, home: Path, port: int, publish_every: float = 60) -> int:
    """Run the demo services, the webserver and the daemon until interrupted.

    Returns:
        The exit status: 0 when stopped by a signal or when both processes ended cleanly.
    """
    home = prepare_home(home)
    with demo_services(home, publish_every=publish_every) as services:
        publishing = f", a new version every {publish_every:g}s" if publish_every > 0 else ""
        return _run_dagster(
            workspace=workspace, home=home, port=port, services=services, publishing=publishing
        )


def _run_dagster(
    *, workspace: Path, home: Path, port: int, services: DemoServices, publishing: str
) -> int:
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
        f"kargo-dagster demo: http://127.0.0.1:{port}/asset-groups (DAGSTER_HOME={home})\n"
        f"  registry {services.image} (tags: {', '.join(services.published())}){publishing}\n"
        f"  GitOps repository {services.gitops_url}\n"
        f"  Argo CD (simulated) Applications guestbook-<stage> at {services.kube_url}\n"
        "  Ctrl-C stops it.\n"
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

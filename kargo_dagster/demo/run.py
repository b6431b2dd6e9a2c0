"""``kargo-dagster demo``: the Dagster webserver and daemon over the example manifests.

The demo's instance lives under ``--home`` (:mod:`kargo_dagster.demo.home`). A local registry
and a local GitOps repository (:mod:`kargo_dagster.demo.services`) stand in for the outside
world, so the Warehouse sensor discovers real Freight and promotions push real commits.

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

from kargo_dagster.demo.home import prepare_home
from kargo_dagster.demo.services import (
    BROKEN_VERSIONS,
    FIX_AFTER,
    DemoServices,
    demo_services,
    newest_version,
    next_version,
)


def run_demo(
    *,
    workspace: Path,
    home: Path,
    port: int,
    publish_every: float = 60,
    fix_after: float = FIX_AFTER,
) -> int:
    """Run the demo services, the webserver and the daemon until interrupted.

    With ``publish_every`` (seconds; 0: never), the demo publishes the broken ``v0.3.0`` once
    staging runs ``v0.2.0``, its fix ``fix_after`` seconds later, and then a new version every
    ``publish_every`` seconds.

    Returns:
        The exit status: 0 when stopped by a signal or when both processes ended cleanly.
    """
    home = prepare_home(home)
    with demo_services(home, publish_every=publish_every, fix_after=fix_after) as services:
        publishing = _publishing(services.published(), publish_every, fix_after)
        return _run_dagster(
            workspace=workspace, home=home, port=port, services=services, publishing=publishing
        )


def _publishing(published: list[str], publish_every: float, fix_after: float) -> str:
    """What the demo will publish, as the first lines it prints say it."""
    if publish_every <= 0:
        return ""
    newest, coming = newest_version(published), next_version(published)
    every = f"then a new version every {publish_every:g}s"
    if coming in BROKEN_VERSIONS:
        return (
            f"\n  next {coming}, which ships broken, once staging runs {newest};"
            f" its fix {fix_after / 60:g} min after it, {every}"
        )
    if newest in BROKEN_VERSIONS:
        return f"\n  {newest} ships broken: its fix {coming} in {fix_after / 60:g} min, {every}"
    return f", a new version every {publish_every:g}s"


def _run_dagster(
    *, workspace: Path, home: Path, port: int, services: DemoServices, publishing: str
) -> int:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    bin_dir = Path(sys.executable).parent
    webserver = str(bin_dir / "dagster-webserver")
    # INFO for Dagster's own messages in both; the webserver's --log-level is uvicorn's, which
    # at INFO would add a line per HTTP request the UI makes, so it stays at warning. Runs
    # take their level from the instance (python_logs in dagster.yaml).
    commands = [
        [
            webserver,
            *("-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)),
            *("--dagster-log-level", "info", "--log-level", "warning"),
        ],
        [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace), "--log-level", "info"],
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
        "  In a second terminal, for the README's walkthrough:\n"
        f"    . .venv/bin/activate && export DAGSTER_HOME={home}\n"
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

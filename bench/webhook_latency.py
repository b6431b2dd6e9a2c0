"""How long a registry push takes to become Freight through a webhook.

A Warehouse subscribes to an image in Debian's docker-registry on 127.0.0.1; its Project's
ProjectConfig has a GitHub receiver (GitHub Container Registry ``package`` events, signed with
HMAC-SHA-256). ``dagster-daemon`` runs the code location (the Warehouse's sensor included, on
an interval of an hour, so only the webhook can record the new Freight in time) on a SQLite
instance, and ``kargo-dagster receive`` serves the receiver over HTTP. Each round pushes a new
tag, posts the signed event, and times the POST until the Freight's partition is in the
instance. The target is 6 s.

Prints one JSON object as its last line: ``latency_median_s`` and ``latency_max_s`` (POST to
recorded Freight), ``answer_median_s`` (POST to the receiver's answer), ``refresh_median_s``
(one in-process refresh of the same Warehouse, the work itself), ``latency_over_refresh`` and
``target_s``. Run with the project's virtual environment: ``.venv/bin/python
bench/webhook_latency.py`` (``--rounds`` for shorter runs).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import httpx

from kargo_dagster.defs.refresh import refresh_warehouses
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing import webhook_senders as send
from kargo_dagster.testing.oci_push import push_image
from kargo_dagster.testing.polling import wait_until
from kargo_dagster.testing.registry import LocalRegistry, free_port
from kargo_dagster.webhooks.paths import receiver_path

TARGET_SECONDS = 6.0
SECRET = "bench-webhook-secret"
REPOSITORY = "bench/app"
MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: bench
---
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: bench
  namespace: bench
spec:
  webhookReceivers:
  - name: ghcr
    github:
      secretRef:
        name: ghcr-hook
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: bench
spec:
  interval: 1h
  subscriptions:
  - image:
      repoURL: {repo}
"""
DEFINITIONS = """\
from pathlib import Path

from kargo_dagster import load_definitions

defs = load_definitions(Path(__file__).parent / "stages")
"""
WORKSPACE = """\
load_from:
  - python_file:
      relative_path: definitions.py
      working_directory: .
"""
INSTANCE = "telemetry:\n  enabled: false\n"


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="pushes to time (default 10)")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    with tempfile.TemporaryDirectory() as scratch, LocalRegistry() as registry:
        root = Path(scratch)
        push_image(registry, REPOSITORY, "v1.0.0")
        project = root / "project"
        (project / "stages").mkdir(parents=True)
        (project / "stages" / "bench.yaml").write_text(
            MANIFESTS.format(repo=registry.repo_url(REPOSITORY))
        )
        (project / "definitions.py").write_text(DEFINITIONS)
        (project / "workspace.yaml").write_text(WORKSPACE)
        home = root / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text(INSTANCE)
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "KARGO_DAGSTER_WORK_DIR": str(root / "kd"),
            "KARGO_DAGSTER_WEBHOOK_SECRET_GHCR_HOOK": SECRET,
        }
        bin_dir = Path(sys.executable).parent
        port = free_port()
        started = [
            subprocess.Popen(
                command,
                cwd=project,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(root / f"{name}.log").open("w"),
                start_new_session=True,
            )
            for name, command in (
                ("daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml"]),
                ("receiver", [str(bin_dir / "kargo-dagster"), "receive", "--path", "stages",
                              "--definitions", "definitions.py", "--port", str(port)]),
            )
        ]  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        url = base + receiver_path("bench", "github", "ghcr", SECRET)
        latencies: list[float] = []
        answered: list[float] = []
        try:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                daemon, receiver = started
                wait_until(
                    lambda: answers(f"{base}/healthz"),
                    what=f"the receiver (its log: {root / 'receiver.log'})",
                    timeout=120,
                    interval=0.02,
                    process=receiver,
                )
                wait_until(
                    lambda: "SENSOR" in instance.get_daemon_heartbeats(),
                    what=f"the daemon (its log: {root / 'daemon.log'})",
                    timeout=120,
                    interval=0.02,
                    process=daemon,
                )
                for round_ in range(1, args.rounds + 1):
                    tag = f"v1.{round_}.0"
                    push_image(registry, REPOSITORY, tag)
                    event = send.github_package(registry.repo_url(REPOSITORY), tag, SECRET)
                    sent = time.monotonic()
                    response = httpx.post(url, content=event.body, headers=event.headers)
                    answered.append(time.monotonic() - sent)
                    if response.status_code != 200:
                        raise SystemExit(f"the receiver answered {response.text}")
                    # Asked often: the time between two questions adds to the latency.
                    wait_until(
                        lambda tag=tag: any(
                            tag in key for key in instance.get_dynamic_partitions("bench/app")
                        ),
                        what=f"Freight of {tag} (logs in {root})",
                        timeout=60,
                        interval=0.02,
                        process=receiver,
                    )
                    latencies.append(time.monotonic() - sent)
                refresh = in_process_refreshes(instance, project / "stages", root / "kd2", registry)
        finally:
            for process in started:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
    median = statistics.median(latencies)
    print(
        json.dumps(
            {
                "rounds": len(latencies),
                "latency_median_s": round(median, 3),
                "latency_max_s": round(max(latencies), 3),
                "answer_median_s": round(statistics.median(answered), 4),
                "refresh_median_s": round(refresh, 3),
                "latency_over_refresh": round(median / refresh, 2),
                "target_s": TARGET_SECONDS,
            }
        )
    )


def in_process_refreshes(
    instance: dg.DagsterInstance, stages: Path, work: Path, registry: LocalRegistry
) -> float:
    """Median time of one refresh in this process, each after a new tag, as a baseline."""
    project = load_manifests(stages).projects["bench"]
    kargo = KargoResource(work_dir=str(work))
    samples: list[float] = []
    for round_ in range(5):
        push_image(registry, REPOSITORY, f"v2.{round_}.0")
        started = time.monotonic()
        refresh_warehouses(instance, kargo, project, ["app"])
        samples.append(time.monotonic() - started)
    return statistics.median(samples)


if __name__ == "__main__":
    main()

"""A promotion's cost against plain git doing the same commit.

The promotion (git-clone from the cache, yaml-update, git-commit, git-push) runs in process
through the engine against a repository served over git's smart HTTP protocol on 127.0.0.1;
the baseline is a shell of git commands on a kept clone of the same repository (fetch, reset,
edit, commit, push). Both push a real commit each round.

Then the same promotion runs as Dagster does it for a user: a Stage of a Project whose
promotion template has those four steps, each round a new Freight recorded and its Stage
partition launched with ``dagster job launch`` onto the queue of a SQLite instance, where
``dagster-daemon`` dequeues it and starts the run in a process of its own. The run's event
log gives the breakdown: queueing (enqueued to launched), run start (launched to the step
starting: a new process loading the definitions), steps (the Stage asset's step, the
promotion itself) and finishing (step end to run end).

Prints one JSON object as its last line: ``inprocess_over_git`` (median promotion time over
median git time), ``daemon_total_s`` (median enqueued-to-finished time of a daemon-launched
promotion run), ``daemon_over_git`` and the medians of the breakdown under ``daemon``.

Run with the project's virtual environment: ``.venv/bin/python bench/promotion.py``
(``--skip-daemon`` for the in-process part only).
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from kargo_dagster import record_freight
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.promotion.builtin import builtin_registry
from kargo_dagster.promotion.engine import PromotionServices, run_promotion
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.step import PromotionInfo
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote

ROUNDS = 15
DAEMON_ROUNDS = 5
FILES = 1000
VALUES = "image:\n  repository: ghcr.io/acme/app\n  tag: v0\n"


def promotion_steps(url: str, tag: str) -> list[PlannedStep]:
    return [
        PlannedStep(
            alias="clone",
            uses="git-clone",
            config={"repoURL": url, "checkout": [{"branch": "main", "path": "./repo"}]},
        ),
        PlannedStep(
            alias="update",
            uses="yaml-update",
            config={"path": "./repo/values.yaml", "updates": [{"key": "image.tag", "value": tag}]},
        ),
        PlannedStep(
            alias="commit",
            uses="git-commit",
            config={"path": "./repo", "message": "${{ outputs.update.commitMessage }}"},
        ),
        PlannedStep(alias="push", uses="git-push", config={"path": "./repo"}),
    ]


MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: bench
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: bench
spec:
  interval: 1h
  subscriptions:
  # Freight is recorded by the benchmark; nothing listens here, so discovery finds nothing.
  - image:
      repoURL: 127.0.0.1:9/acme/app
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  namespace: bench
spec:
  requestedFreight:
  - origin:
      kind: Warehouse
      name: app
    sources:
      direct: true
  promotionTemplate:
    spec:
      steps:
      - uses: git-clone
        as: clone
        config:
          repoURL: {url}
          checkout:
          - branch: main
            path: ./repo
      - uses: yaml-update
        as: update
        config:
          path: ./repo/values.yaml
          updates:
          - key: image.tag
            value: ${{{{ imageFrom("ghcr.io/acme/app").Tag }}}}
      - uses: git-commit
        config:
          path: ./repo
          message: ${{{{ outputs.update.commitMessage }}}}
      - uses: git-push
        config:
          path: ./repo
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

INSTANCE = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def freight_for(tag: str) -> Freight:
    return Freight(
        origin=FreightOrigin(name="app"),
        images=(Image(repo_url="ghcr.io/acme/app", tag=tag, digest="sha256:" + "1" * 64),),
    )


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def run_breakdown(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds between the run's milestones, from its event log."""
    first: dict[dg.DagsterEventType, float] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is not None and event.event_type not in first:
            first[event.event_type] = record.timestamp
    kinds = dg.DagsterEventType
    # RUN_STARTING: the daemon took the run off the queue and launched its process.
    enqueued, launched = first[kinds.RUN_ENQUEUED], first[kinds.RUN_STARTING]
    step_start, step_end = first[kinds.STEP_START], first[kinds.STEP_SUCCESS]
    finished = first[kinds.RUN_SUCCESS]
    return {
        "queueing_s": launched - enqueued,
        "run_start_s": step_start - launched,
        "steps_s": step_end - step_start,
        "finishing_s": finished - step_end,
        "total_s": finished - enqueued,
    }


def through_the_daemon(root: Path, url: str, tags: Callable[[], str]) -> dict[str, float]:
    """Median breakdown of promotion runs launched onto the queue and run by the daemon."""
    project = root / "project"
    (project / "stages").mkdir(parents=True)
    (project / "stages" / "bench.yaml").write_text(MANIFESTS.format(url=url))
    (project / "definitions.py").write_text(DEFINITIONS)
    (project / "workspace.yaml").write_text(WORKSPACE)
    home = root / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE)
    env = {**os.environ, "DAGSTER_HOME": str(home), "KARGO_DAGSTER_WORK_DIR": str(root / "kd")}
    bin_dir = Path(sys.executable).parent
    workspace = str(project / "workspace.yaml")
    daemon = subprocess.Popen(
        [str(bin_dir / "dagster-daemon"), "run", "-w", workspace],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "daemon.log").open("w"),
        start_new_session=True,
    )
    samples: list[dict[str, float]] = []
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            wait_until(
                lambda: "QUEUED_RUN_COORDINATOR" in instance.get_daemon_heartbeats(),
                120,
                f"the daemon (its log: {root / 'daemon.log'})",
            )
            for round_ in range(DAEMON_ROUNDS + 1):
                key = record_freight(instance, "bench", freight_for(tags()))
                launched = subprocess.run(
                    [
                        str(bin_dir / "dagster"), "job", "launch", "-w", workspace,
                        "-j", "__ASSET_JOB", "-o", "bench__stage__dev",
                        "--tags", json.dumps({"dagster/partition": key}),
                    ],
                    cwd=project, env=env, capture_output=True, text=True, check=False,
                )  # fmt: skip
                if launched.returncode != 0:
                    raise SystemExit(f"dagster job launch failed:\n{launched.stderr}")
                [run] = instance.get_run_records(
                    dg.RunsFilter(tags={"dagster/partition": key}), limit=1
                )
                run_id = run.dagster_run.run_id

                def finished(run_id: str = run_id) -> bool:
                    found = instance.get_run_by_id(run_id)
                    return found is not None and found.is_finished

                wait_until(finished, 300, f"run {run_id} ({launched.stdout.strip()})")
                status = instance.get_run_by_id(run_id)
                if status is None or not status.is_success:
                    raise SystemExit(f"promotion run {run_id} did not succeed")
                if round_:  # the first run fills the clone cache, as in process
                    samples.append(run_breakdown(instance, run_id))
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
    return {key: round(statistics.median(s[key] for s in samples), 3) for key in samples[0]}


def main() -> None:
    with_daemon = "--skip-daemon" not in sys.argv[1:]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        remote = GitRemote.create(root / "remotes", "gitops")
        files: dict[str, str | None] = {
            f"manifests/{i:04d}.yaml": f"n: {i}\n" for i in range(FILES)
        }
        files["values.yaml"] = VALUES
        remote.commit("initial", files)
        with GitHTTPServer(root / "remotes") as server:
            url = server.url_for(remote)
            freight = freight_for("v1")
            info = PromotionInfo(
                project="bench",
                stage="dev",
                name="dev.bench.1234567",
                freight=freight,
                collection={"app": freight},
            )
            services = PromotionServices(git_cache_dir=root / "cache")
            registry = builtin_registry()
            counter = iter(range(10**6))

            def promote() -> None:
                result = run_promotion(
                    steps=promotion_steps(url, f"v{next(counter)}"),
                    registry=registry,
                    promotion=info,
                    services=services,
                    work_root=root / "work",
                )
                assert result.succeeded, result.message

            kept = root / "kept"
            subprocess.run(["git", "clone", "-q", url, str(kept)], check=True)
            git(kept, "config", "user.name", "bench")
            git(kept, "config", "user.email", "bench@example.invalid")

            def plain_git() -> None:
                git(kept, "fetch", "-q", "origin")
                git(kept, "reset", "-q", "--hard", "origin/main")
                (kept / "values.yaml").write_text(VALUES.replace("v0", f"g{next(counter)}"))
                git(kept, "commit", "-q", "-am", "Updated values.yaml")
                git(kept, "push", "-q", "origin", "HEAD:main")

            promote()  # the first promotion fills the clone cache
            samples: dict[str, list[float]] = {"promotion": [], "git": []}
            for _ in range(ROUNDS):
                for name, action in (("promotion", promote), ("git", plain_git)):
                    started = time.perf_counter()
                    action()
                    samples[name].append(time.perf_counter() - started)
            daemon = (
                through_the_daemon(root, url, lambda: f"d{next(counter)}") if with_daemon else None
            )
        promotion = statistics.median(samples["promotion"])
        baseline = statistics.median(samples["git"])
        total = daemon["total_s"] if daemon else None
        print(
            json.dumps(
                {
                    "files": FILES,
                    "promotion_s": round(promotion, 4),
                    "git_s": round(baseline, 4),
                    "inprocess_over_git": round(promotion / baseline, 2),
                    "daemon": daemon,
                    "daemon_over_git": round(total / baseline, 1) if total else None,
                    "daemon_total_s": total,
                }
            )
        )


if __name__ == "__main__":
    main()

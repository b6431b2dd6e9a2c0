"""A promotion's cost against plain git doing the same commit.

The promotion (git-clone from the cache, yaml-update, git-commit, git-push) runs in process
through the engine against a repository served over git's smart HTTP protocol on 127.0.0.1;
the baseline is a shell of git commands on a kept clone of the same repository (fetch, reset,
edit, commit, push). Both push a real commit each round.

The same promotion also runs cold: from an empty work directory and an empty clone cache (no
cached clone, no parked checkouts), new ones each round, as when a run starts in a fresh
Kubernetes pod; its baseline is git from nothing too: ``git clone --depth 1`` into a new
directory, the same edit, commit and push.

Then the same promotion runs as Dagster does it for a user: a Stage of a Project whose
promotion template has those four steps, each round a new Freight recorded and its Stage
partition launched with ``dagster job launch`` onto the queue of a SQLite instance, where
``dagster-daemon`` dequeues it and starts the run in a process of its own. The run's event
log gives the breakdown: queueing (enqueued to launched), run start (launched to the step
starting: a new process loading the definitions), steps (the Stage asset's step, the
promotion itself) and finishing (step end to run end).

Prints one JSON object as its last line: ``files`` (the repository's size: that many
manifests besides ``values.yaml``), ``inprocess_over_git`` (median warm promotion time over
median git time), ``cold_over_git`` (median cold promotion time over median ``git clone
--depth 1``-to-push time), ``cpu_over_git`` (the same two as ratios of median CPU time, of
this process and the git processes: steadier than wall time when other work shares the
machine), ``daemon_total_s`` (median enqueued-to-finished time of a daemon-launched promotion
run), ``daemon_over_git`` and the medians of the breakdown under ``daemon``.

Run with the project's virtual environment: ``.venv/bin/python bench/promotion.py``
(``--skip-daemon`` for the in-process parts only, ``--rounds`` for shorter runs; ``--help``).
"""

import argparse
import json
import os
import shutil
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
from kargo_dagster.testing.polling import wait_until

ROUNDS = 15
COLD_ROUNDS = 7
DAEMON_ROUNDS = 5
FILES = 1000
VALUES = "image:\n  repository: ghcr.io/acme/app\n  tag: v0\n"

Sample = tuple[float, float]  # one round's wall time and CPU time, in seconds


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


def through_the_daemon(
    root: Path, url: str, tags: Callable[[], str], rounds: int
) -> dict[str, float]:
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
                what=f"the daemon (its log: {root / 'daemon.log'})",
                timeout=120,
                interval=0.2,
                process=daemon,
            )
            for round_ in range(rounds + 1):
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

                wait_until(
                    finished,
                    what=f"run {run_id} ({launched.stdout.strip()})",
                    timeout=300,
                    interval=0.2,
                    process=daemon,
                )
                status = instance.get_run_by_id(run_id)
                if status is None or not status.is_success:
                    raise SystemExit(f"promotion run {run_id} did not succeed")
                if round_:  # the first run fills the clone cache, as in process
                    samples.append(run_breakdown(instance, run_id))
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
    return {key: round(statistics.median(s[key] for s in samples), 3) for key in samples[0]}


def cpu_seconds() -> float:
    """CPU time of this process (the engine, the HTTP server) and its finished children (git)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def timed(samples: list[Sample], action: Callable[[], object]) -> None:
    """Run ``action``, noting its wall time and the CPU time it took."""
    cpu, started = cpu_seconds(), time.perf_counter()
    action()
    samples.append((time.perf_counter() - started, cpu_seconds() - cpu))


def over(samples: list[Sample], baseline: list[Sample], kind: int) -> float:
    """Median of ``samples`` over median of ``baseline``: wall time (0) or CPU time (1)."""
    return round(
        statistics.median(s[kind] for s in samples) / statistics.median(b[kind] for b in baseline),
        2,
    )


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Prints one JSON object as its last line (see the module's docstring).",
    )
    parser.add_argument(
        "--skip-daemon", action="store_true", help="measure in process only (no dagster-daemon)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        help=f"warm rounds (default {ROUNDS}); cold and daemon rounds scale with it "
        f"(default {COLD_ROUNDS} and {DAEMON_ROUNDS})",
    )
    return parser.parse_args()


def main() -> None:
    args = arguments()
    rounds = max(1, args.rounds)
    cold_rounds = max(1, round(rounds * COLD_ROUNDS / ROUNDS))
    daemon_rounds = max(1, round(rounds * DAEMON_ROUNDS / ROUNDS))
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

            def promote(services: PromotionServices = services, work: Path = root / "work") -> None:
                result = run_promotion(
                    steps=promotion_steps(url, f"v{next(counter)}"),
                    registry=registry,
                    promotion=info,
                    services=services,
                    work_root=work,
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
            samples: dict[str, list[Sample]] = {
                "promotion": [], "git": [], "cold_promotion": [], "cold_git": [],
            }  # fmt: skip
            for _ in range(rounds):
                timed(samples["promotion"], promote)
                timed(samples["git"], plain_git)

            # Cold: nothing on disk from earlier rounds, on either side.
            def cold_promote(fresh: Path) -> None:
                promote(PromotionServices(git_cache_dir=fresh / "cache"), fresh / "work")

            def cold_git(fresh: Path) -> None:
                clone = fresh / "clone"
                subprocess.run(
                    ["git", "clone", "-q", "--depth", "1", url, str(clone)],
                    check=True,
                    capture_output=True,
                )
                (clone / "values.yaml").write_text(VALUES.replace("v0", f"c{next(counter)}"))
                git(
                    clone, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                    "commit", "-q", "-am", "Updated values.yaml",
                )  # fmt: skip
                git(clone, "push", "-q", "origin", "HEAD:main")

            for _ in range(cold_rounds):
                for name, cold in (("cold_promotion", cold_promote), ("cold_git", cold_git)):
                    fresh = Path(tempfile.mkdtemp(prefix="cold-", dir=root))
                    timed(samples[name], lambda cold=cold, fresh=fresh: cold(fresh))
                    shutil.rmtree(fresh)
            daemon = (
                through_the_daemon(root, url, lambda: f"d{next(counter)}", daemon_rounds)
                if not args.skip_daemon
                else None
            )
        promotion, baseline, cold_promotion, cold_baseline = (
            statistics.median(wall for wall, _ in samples[name])
            for name in ("promotion", "git", "cold_promotion", "cold_git")
        )
        total = daemon["total_s"] if daemon else None
        print(
            json.dumps(
                {
                    "files": FILES,
                    "promotion_s": round(promotion, 4),
                    "git_s": round(baseline, 4),
                    "inprocess_over_git": round(promotion / baseline, 2),
                    "cold_promotion_s": round(cold_promotion, 4),
                    "cold_git_s": round(cold_baseline, 4),
                    "cold_over_git": round(cold_promotion / cold_baseline, 2),
                    "cpu_over_git": {
                        "inprocess": over(samples["promotion"], samples["git"], 1),
                        "cold": over(samples["cold_promotion"], samples["cold_git"], 1),
                    },
                    "daemon": daemon,
                    "daemon_over_git": round(total / baseline, 1) if total else None,
                    "daemon_total_s": total,
                }
            )
        )


if __name__ == "__main__":
    main()

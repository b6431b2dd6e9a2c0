"""Promotions run as Kubernetes run pods run them: separate processes, separate disks.

On Dagster's Helm chart every run starts in a pod of its own with an empty disk; the runs
share only PostgreSQL and the git remotes. Three worker processes race nine promotions,
three into one Stage and the rest into two other Stages that push to the same branch. Each
promotion either lands as exactly one commit or gives way to a newer one, saying so; the
history stays linear, and each Stage holds what its last promotion committed. The same race
with every run sharing one work directory (a ReadWriteMany volume) ends the same way.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from kargo_dagster import load_manifests, record_freight
from kargo_dagster.defs.history import collect_history
from kargo_dagster.defs.instance_queries import current_freight
from kargo_dagster.defs.run_failures import failure_reasons
from kargo_dagster.defs.stage_pools import ensure_stage_pools
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.polling import wait_until
from tests.conftest import postgres_storage

REPO = Path(__file__).parents[2]
PROJECT = "pods"
STAGES = ("dev", "qa", "perf")
VERSIONS = ("v1", "v2", "v3")
APP = "registry.example.com/pods/app"

PROJECT_MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: pods
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: pods
spec:
  subscriptions:
  - image:
      repoURL: registry.example.com/pods/app
"""
STAGE_MANIFEST = """\
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: {stage}
  namespace: pods
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      steps:
      - uses: git-clone
        config:
          repoURL: {repo}
          checkout:
          - branch: main
            path: ./repo
      - uses: yaml-update
        config:
          path: ./repo/{stage}.yaml
          updates:
          - key: image.tag
            value: ${{{{ imageFrom("registry.example.com/pods/app").Tag }}}}
      - uses: git-commit
        config:
          path: ./repo
          message: {stage} runs ${{{{ imageFrom("registry.example.com/pods/app").Tag }}}}
      - uses: git-push
        config:
          path: ./repo
"""


def freight(tag: str) -> Freight:
    digest = "sha256:" + tag.encode().hex().ljust(64, "0")
    return Freight(
        origin=FreightOrigin(name="app"), images=(Image(repo_url=APP, tag=tag, digest=digest),)
    )


@pytest.mark.postgres
@pytest.mark.parametrize("disks", ["fresh", "shared"])
def test_runs_in_separate_pods_promote_each_freight_once_on_a_linear_history(
    tmp_path: Path, postgres_database: str, disks: str
):
    home = tmp_path / "home"
    home.mkdir()
    config = {
        "telemetry": {"enabled": False},
        **postgres_storage(postgres_database),
        "concurrency": {"pools": {"default_limit": 1}},
    }
    (home / "dagster.yaml").write_text(json.dumps(config))
    remote = GitRemote.create(tmp_path / "remotes", "gitops")
    remote.commit("start", {f"{stage}.yaml": "image:\n  tag: v0\n" for stage in STAGES})
    with GitHTTPServer(tmp_path / "remotes") as git:
        manifests = tmp_path / "stages.yaml"
        stages = "".join(STAGE_MANIFEST.format(stage=s, repo=git.url_for(remote)) for s in STAGES)
        manifests.write_text(PROJECT_MANIFESTS + stages)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            keys = {v: record_freight(instance, PROJECT, freight(v)) for v in VERSIONS}
            # What the Warehouse sensor's ticks do before anyone promotes (as Dagster's run
            # queue does before it launches run pods).
            project = load_manifests(manifests).projects[PROJECT]
            assert sorted(ensure_stage_pools(instance, project)) == sorted(
                f"kargo/pods/{s}" for s in STAGES
            )
        # Worker i promotes version i into every Stage, each worker in another order, so
        # that runs into one Stage and runs into different Stages start together.
        orders = [("dev", "qa", "perf"), ("dev", "perf", "qa"), ("qa", "dev", "perf")]
        workers = []
        for index, version in enumerate(VERSIONS):
            work_root = tmp_path / f"worker-{index}"
            work_root.mkdir()
            spec = {
                "project": PROJECT,
                "manifests": str(manifests),
                "promotions": [[stage, keys[version]] for stage in orders[index]],
                "work_root": str(tmp_path / "volume" if disks == "shared" else work_root),
                "shared_work_dir": disks == "shared",
                "ready": str(work_root / "ready"),
                "start": str(tmp_path / "start"),
            }
            (work_root / "spec.json").write_text(json.dumps(spec))
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.deploy.promotion_worker",
                        str(work_root / "spec.json"),
                    ],
                    cwd=REPO,
                    env={**os.environ, "DAGSTER_HOME": str(home), "HOME": str(work_root)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )

        def all_ready() -> bool:
            for worker in workers:
                assert worker.poll() is None, worker.communicate()[1][-3000:]
            return all((tmp_path / f"worker-{i}" / "ready").exists() for i in range(len(workers)))

        # Loading Dagster takes each worker its own time: they start together once all have.
        wait_until(all_ready, what="the workers to load", timeout=300)
        (tmp_path / "start").touch()
        reports = []
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err[-3000:]
            reports += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(reports) == len(STAGES) * len(VERSIONS)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = {
            r.run_id: r
            for r in instance.get_runs(dg.RunsFilter(run_ids=[r["run"] for r in reports]))
        }
        history = {
            stage: {row["runID"]: row for row in collect_history(instance, PROJECT, stage)}
            for stage in STAGES
        }
        failures = {r["run"]: failure_reasons(instance, r["run"]) for r in reports if not r["ok"]}
        held = {
            stage: current_freight(instance, dg.AssetKey([PROJECT, "stage", stage]))
            for stage in STAGES
        }
    # Every run ended clearly: promoted, or gave way to a newer request saying so. Neither
    # fails the run: giving way changes nothing, so it paints nothing red.
    promoted: dict[str, list[str]] = {stage: [] for stage in STAGES}
    for report in reports:
        run, row = runs[report["run"]], history[report["stage"]][report["run"]]
        version = next(v for v, key in keys.items() if key == run.tags["kargo/freight"])
        assert report["ok"], failures[report["run"]]
        assert run.status == dg.DagsterRunStatus.SUCCESS
        if "kargo/outcome" not in run.tags:
            assert row["result"] == "succeeded"
            promoted[report["stage"]].append(version)
        else:
            assert run.tags["kargo/outcome"] == "superseded", run.tags
            assert row["result"] == "superseded"
            assert row["reason"].startswith(
                f"Superseded: a newer promotion into Stage {report['stage']} (run "
            )
    assert_one_commit_per_promotion(remote, promoted)
    for stage in STAGES:
        # What the Stage holds is what its last commit wrote.
        now = held[stage]
        assert now is not None
        tag = next(v for v, key in keys.items() if key == now.partition_key)
        assert f"tag: {tag}" in remote.git("show", f"main:{stage}.yaml")


def assert_one_commit_per_promotion(remote: GitRemote, promoted: dict[str, list[str]]) -> None:
    lines = remote.git("log", "--format=%P|%s", "main").splitlines()
    # Linear: no commit has two parents.
    assert all(len(line.split("|")[0].split()) <= 1 for line in lines), lines
    subjects = [line.split("|", 1)[1] for line in lines][:-1]  # without the first commit
    expected = [f"{stage} runs {v}" for stage, versions in promoted.items() for v in versions]
    assert sorted(subjects) == sorted(expected)

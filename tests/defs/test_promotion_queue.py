"""Promotions racing for one Stage, through a real webserver, daemon and run queue on PostgreSQL.

Three promotions into one Stage are asked for in quick succession with
``kargo-dagster promote``. The Stage's pool lets one promote at a time, and a request that
waited while a newer one was made gives way to it: the Stage ends with the Freight asked for
last, every run ends in a clear state, and the GitOps history stays linear.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from kargo_dagster import record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.history import collect_history
from kargo_dagster.defs.instance_queries import current_freight
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.conftest import PG_HOST, PG_PORT, PG_USER
from tests.defs.test_demo import free_port, wait_for_graphql

MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: race
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: race
spec:
  subscriptions:
  - image:
      repoURL: registry.example.com/race/app
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  namespace: race
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
          path: ./repo/values.yaml
          updates:
          - key: image.tag
            value: ${{{{ imageFrom("registry.example.com/race/app").Tag }}}}
      - uses: git-commit
        config:
          path: ./repo
          message: dev runs ${{{{ imageFrom("registry.example.com/race/app").Tag }}}}
      - uses: git-push
        config:
          path: ./repo
"""
DEFINITIONS = """\
from pathlib import Path

from kargo_dagster import load_definitions
from kargo_dagster.defs.resources import KargoResource

defs = load_definitions(
    Path(__file__).parent / "stages",
    resources={{"kargo": KargoResource(work_dir={work!r})}},
)
"""
WORKSPACE = """\
load_from:
  - python_file:
      relative_path: definitions.py
      working_directory: .
"""
VERSIONS = ("v1", "v2", "v3")


def freight(tag: str) -> Freight:
    image = Image(
        repo_url="registry.example.com/race/app",
        tag=tag,
        digest="sha256:" + tag.encode().hex().ljust(64, "0"),
    )
    return Freight(origin=FreightOrigin(name="app"), images=(image,))


def instance_config(database: str) -> dict:
    return {
        "telemetry": {"enabled": False},
        "storage": {
            "postgres": {
                "postgres_db": {
                    "hostname": PG_HOST,
                    "port": PG_PORT,
                    "username": PG_USER,
                    "password": "",
                    "db_name": database,
                }
            }
        },
        "concurrency": {"pools": {"default_limit": 1}},
    }


@pytest.mark.postgres
def test_racing_promotions_leave_the_newest_and_a_linear_history(
    tmp_path, postgres_database, monkeypatch, capsys
):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(json.dumps(instance_config(postgres_database)))
    remotes = tmp_path / "remotes"
    remote = GitRemote.create(remotes, "gitops")
    remote.commit("values", {"values.yaml": "image:\n  tag: v0\n"})
    with GitHTTPServer(remotes) as git:
        (tmp_path / "stages").mkdir()
        (tmp_path / "stages" / "race.yaml").write_text(MANIFESTS.format(repo=git.url_for(remote)))
        (tmp_path / "definitions.py").write_text(DEFINITIONS.format(work=str(tmp_path / "work")))
        (tmp_path / "workspace.yaml").write_text(WORKSPACE)
        env = {**os.environ, "DAGSTER_HOME": str(home)}
        port = free_port()
        bin_dir = Path(sys.executable).parent
        processes = [
            subprocess.Popen(
                [str(bin_dir / command), *arguments, "-w", "workspace.yaml"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for command, arguments in (
                ("dagster-webserver", ["-h", "127.0.0.1", "-p", str(port)]),
                ("dagster-daemon", ["run"]),
            )
        ]
        try:
            wait_for_graphql(f"http://127.0.0.1:{port}/graphql", processes[0])
            monkeypatch.setenv("DAGSTER_HOME", str(home))
            with dg.DagsterInstance.get() as instance:
                keys = [record_freight(instance, "race", freight(v)) for v in VERSIONS]
            for key in keys:
                arguments = [
                    "promote", "--path", str(tmp_path / "stages"), "--stage", "dev",
                    "--freight", key, "--url", f"http://127.0.0.1:{port}", "--actor", "ci",
                ]  # fmt: skip
                assert main(arguments) == 0
            launched = [line.split()[2] for line in capsys.readouterr().out.splitlines()]
            assert len(launched) == 3
            with dg.DagsterInstance.get() as instance:
                runs = wait_until_finished(instance, launched)
                reasons = {
                    r["runID"]: r["reason"] for r in collect_history(instance, "race", "dev")
                }
                outcome = {run_id: (runs[run_id].status, reasons[run_id]) for run_id in launched}
                now = current_freight(instance, dg.AssetKey(["race", "stage", "dev"]))
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
    # What was asked for last is what the Stage holds.
    assert outcome[launched[-1]] == (dg.DagsterRunStatus.SUCCESS, "")
    assert now is not None and now.partition_key == keys[-1]
    # Every other run promoted (before the newer request was made) or gave way, saying so.
    promoted = 0
    for run_id in launched[:-1]:
        status, failure = outcome[run_id]
        if status == dg.DagsterRunStatus.SUCCESS:
            promoted += 1
        else:
            assert status == dg.DagsterRunStatus.FAILURE
            assert failure.startswith("Superseded: a newer promotion into Stage dev (run "), failure
            assert failure.endswith("was requested while this one waited; this run changed nothing")
    # One commit per promotion, one after another: no merges, the last one on top.
    history = remote.git("log", "--format=%P %s", "main").splitlines()
    assert all(len(line.split(" dev runs")[0].split()) <= 1 for line in history)
    assert len(history) == 1 + promoted + 1
    assert history[0].endswith("dev runs v3")
    assert "tag: v3" in remote.git("show", "main:values.yaml")


def wait_until_finished(
    instance: dg.DagsterInstance, run_ids: list[str], timeout: float = 240
) -> dict[str, dg.DagsterRun]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=run_ids))}
        if len(runs) == len(run_ids) and all(run.is_finished for run in runs.values()):
            return runs
        time.sleep(1)
    states = {r.run_id: r.status for r in instance.get_runs(dg.RunsFilter(run_ids=run_ids))}
    raise AssertionError(f"the promotions did not finish: {states}")

"""Promotions racing for one Stage, through a real webserver, daemon and run queue on PostgreSQL.

Three promotions into one Stage are asked for in quick succession with
``kargo-dagster promote``. The Stage's pool lets one promote at a time, and a request that
waited while a newer one was made gives way to it: the Stage ends with the Freight asked for
last, every run ends in a clear state, and the GitOps history stays linear. A backfill of
the Stage's partitions, launched as the UI launches it, goes through the same gate, pool and
superseding, and a backfill of one older partition rolls the Stage back.
"""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest

from kargo_dagster import record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.history import collect_history
from kargo_dagster.defs.instance_queries import current_freight
from kargo_dagster.defs.names import TAG_FREIGHT
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing import free_port
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.polling import wait_until
from tests.conftest import postgres_storage
from tests.defs.test_demo import wait_for_graphql

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


@dataclass(frozen=True)
class Services:
    """A Dagster webserver and daemon on PostgreSQL serving the ``race`` Project."""

    url: str
    stages: Path
    remote: GitRemote

    def launch_backfill(self, stage: dg.AssetKey, partitions: list[str]) -> str:
        """Launch a backfill of ``stage``'s partitions as the UI's Backfill dialog does."""
        params = {
            "partitionNames": partitions,
            "assetSelection": [{"path": list(stage.path)}],
            "fromFailure": False,
            "tags": [],
        }
        response = httpx.post(
            f"{self.url}/graphql", json={"query": LAUNCH_BACKFILL, "variables": {"params": params}}
        )
        result = response.json()["data"]["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        return result["backfillId"]


LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
DEV = dg.AssetKey(["race", "stage", "dev"])


@pytest.fixture
def services(tmp_path: Path, postgres_database: str, monkeypatch) -> Iterator[Services]:
    home = tmp_path / "home"
    home.mkdir()
    config = {
        "telemetry": {"enabled": False},
        **postgres_storage(postgres_database),
        "concurrency": {"pools": {"default_limit": 1}},
    }
    (home / "dagster.yaml").write_text(json.dumps(config))
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
            yield Services(f"http://127.0.0.1:{port}", tmp_path / "stages", remote)
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)


@pytest.mark.postgres
def test_racing_promotions_leave_the_newest_and_a_linear_history(services: Services, capsys):
    with dg.DagsterInstance.get() as instance:
        keys = [record_freight(instance, "race", freight(v)) for v in VERSIONS]
    for key in keys:
        arguments = [
            "promote", "--path", str(services.stages), "--stage", "dev",
            "--freight", key, "--url", services.url, "--actor", "ci",
        ]  # fmt: skip
        assert main(arguments) == 0
    launched = [line.split()[2] for line in capsys.readouterr().out.splitlines()]
    assert len(launched) == 3
    with dg.DagsterInstance.get() as instance:
        runs = wait_until_finished(instance, launched)
        rows = {r["runID"]: r for r in collect_history(instance, "race", "dev")}
        now = current_freight(instance, DEV)
    # What was asked for last is what the Stage holds.
    assert runs[launched[-1]].status == dg.DagsterRunStatus.SUCCESS
    assert rows[launched[-1]]["result"] == "succeeded"
    assert now is not None and now.partition_key == keys[-1]
    promoted = assert_promoted_or_superseded(launched[:-1], runs, rows)
    assert_linear_history(services.remote, promoted + 1, "v3")


@pytest.mark.postgres
def test_backfills_of_stage_partitions_promote_and_roll_back(services: Services):
    """The UI's backfill of a Stage's partitions goes through the same gate, pool and tags."""
    with dg.DagsterInstance.get() as instance:
        keys = [record_freight(instance, "race", freight(v)) for v in VERSIONS]
    first = services.launch_backfill(DEV, keys)
    with dg.DagsterInstance.get() as instance:
        runs = wait_for_backfill(instance, first, len(keys))
        rows = {r["runID"]: r for r in collect_history(instance, "race", "dev")}
        now = current_freight(instance, DEV)
    # The backfill asked for every partition at once: it promotes the newest Freight only,
    # once, and every other run says so and changes nothing.
    newest = keys[-1]
    assert now is not None and now.partition_key == newest
    for run_id, run in runs.items():
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert (rows[run_id]["action"], rows[run_id]["actor"]) == ("promote", f"backfill:{first}")
        if run.tags[TAG_FREIGHT] == newest:
            assert rows[run_id]["result"] == "succeeded"
        else:
            assert rows[run_id]["result"] == "superseded"
            assert rows[run_id]["reason"] == (
                "Superseded: this backfill selects several Freight for Stage dev and promotes "
                f"only the newest of them, {newest}; this run changed nothing"
            )
    promoted = 1

    # Backfilling another partition alone rolls the Stage back to it.
    back = next(i for i, key in enumerate(keys) if key != now.partition_key)
    second = services.launch_backfill(DEV, [keys[back]])
    with dg.DagsterInstance.get() as instance:
        (run,) = wait_for_backfill(instance, second, 1).values()
        now = current_freight(instance, DEV)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert now is not None and now.partition_key == keys[back]
    assert_linear_history(services.remote, promoted + 1, VERSIONS[back])


def wait_until_finished(
    instance: dg.DagsterInstance, run_ids: list[str], timeout: float = 240
) -> dict[str, dg.DagsterRun]:
    def finished() -> dict[str, dg.DagsterRun] | None:
        runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=run_ids))}
        done = len(runs) == len(run_ids) and all(run.is_finished for run in runs.values())
        return runs if done else None

    def states() -> str:
        runs = instance.get_runs(dg.RunsFilter(run_ids=run_ids))
        states = {run.run_id: run.status for run in runs}
        return f"the promotions to finish (they stand at {states})"

    return wait_until(finished, what=states, timeout=timeout, interval=1)


def wait_for_backfill(
    instance: dg.DagsterInstance, backfill_id: str, count: int, timeout: float = 240
) -> dict[str, dg.DagsterRun]:
    """The backfill's ``count`` runs, once they have all finished."""

    def launched() -> list[dg.DagsterRun] | None:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        return list(runs) if len(runs) == count else None

    what = f"backfill {backfill_id} to launch {count} runs"
    runs = wait_until(launched, what=what, timeout=timeout, interval=1)
    return wait_until_finished(instance, [run.run_id for run in runs], timeout)


def assert_promoted_or_superseded(
    run_ids: list[str], runs: dict[str, dg.DagsterRun], rows: dict[str, dict]
) -> int:
    """Each run promoted (before a newer request was made) or gave way, saying so; returns
    how many promoted. Either way the run succeeded: giving way changes nothing, so it paints
    nothing red."""
    promoted = 0
    for run_id in run_ids:
        row = rows[run_id]
        assert runs[run_id].status == dg.DagsterRunStatus.SUCCESS
        if "kargo/outcome" not in runs[run_id].tags:
            assert row["result"] == "succeeded"
            promoted += 1
            continue
        assert runs[run_id].tags["kargo/outcome"] == "superseded"
        assert row["result"] == "superseded"
        assert row["reason"].startswith("Superseded: a newer promotion into Stage dev (run ")
        assert row["reason"].endswith("while this one waited; this run changed nothing")
    return promoted


def assert_linear_history(remote: GitRemote, promotions: int, newest: str) -> None:
    """One commit per promotion, one after another: no merges, ``newest`` on top."""
    history = remote.git("log", "--format=%P %s", "main").splitlines()
    assert all(len(line.split(" dev runs")[0].split()) <= 1 for line in history)
    assert len(history) == 1 + promotions
    assert history[0].endswith(f"dev runs {newest}")
    assert f"tag: {newest}" in remote.git("show", "main:values.yaml")

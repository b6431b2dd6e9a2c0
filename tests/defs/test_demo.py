"""`kargo-dagster demo`: the README's first command serves the example pipeline."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest
import yaml

from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.instance_queries import current_freight
from kargo_dagster.defs.pipeline_state import read_pipeline_state
from kargo_dagster.demo.services import demo_services
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing import free_port, wait_until

# The demo's services listen on fixed ports: one such test at a time.
pytestmark = pytest.mark.usefixtures("demo_ports")

REPO = Path(__file__).parents[2]
# Assets of the Project outside the Stages' lineage: its delivery metrics and pipeline view.
APART = ("delivery-metrics", "pipeline")

# What `kargo-dagster demo` wrote into its home before it silenced the UI's community dialog
# and the runs' DEBUG lines.
OLDER_DEMO_CONFIG = """\
# Written by `kargo-dagster demo`.
telemetry:
  enabled: false
concurrency:
  pools:
    # One promotion at a time per Stage: every Stage asset has its own pool.
    default_limit: 1
"""

LINEAGE_QUERY = """
{
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    groupName
    partitionDefinition { name }
    kinds
  }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } }
}
"""


def wait_for_graphql(url: str, process: subprocess.Popen, timeout: float = 300) -> dict:
    # A bound on hanging, not on speed: a webserver loading its code location while other
    # workers run theirs can take minutes on a two-CPU machine.
    last_error: list[Exception] = []

    def lineage() -> dict | None:
        try:
            response = httpx.post(url, json={"query": LINEAGE_QUERY}, timeout=10)
            data = response.json()["data"]
            daemons = data["instance"]["daemonHealth"]["allDaemonStatuses"]
            if data["assetNodes"] and all(d["healthy"] for d in daemons if d["required"]):
                return data
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as error:
            last_error[:] = [error]
        return None

    return wait_until(
        lineage,
        what=lambda: f"the demo to come up (last error: {last_error[0] if last_error else None})",
        timeout=timeout,
        interval=1,
        process=process,
    )


def rendered_dom(url: str, profile: Path) -> str:
    """The page's DOM once headless Chromium has run its scripts for a while.

    Headless Chromium's virtual time sometimes stops advancing on a loaded machine and the
    process never ends; it is asked once more, with a fresh profile, before the test fails.
    """
    chromium = shutil.which("chromium")
    assert chromium, "the UI test needs Debian's chromium (installed by .ci/run)"
    try:
        return _dump_dom(chromium, url, profile)
    except subprocess.TimeoutExpired:
        return _dump_dom(chromium, url, profile.with_name(profile.name + "-again"))


def _dump_dom(chromium: str, url: str, profile: Path) -> str:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1600,1000",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def visible_text(dom: str) -> str:
    """The page's words, tags stripped, as a person would read them."""
    return " ".join(re.sub(r"<[^>]+>", " ", dom).split())


def lineage_in_browser(url: str, profile: Path) -> list[str]:
    """The asset names of the lineage graph as headless Chromium lays them out, left to right."""
    dom = rendered_dom(url, profile)
    # Each asset node is a foreignObject at its place in the graph; its first text is the name.
    nodes = []
    for match in re.finditer(
        r'<foreignObject[^>]* x="(\d+)"[^>]*>(.*?)</foreignObject>', dom, re.S
    ):
        text = re.sub(r"<[^>]+>", " ", match.group(2)).split()
        if text:
            nodes.append((int(match.group(1)), text[0]))
    return [name for _, name in sorted(nodes)]


def wait_for_freight(home: Path, process: subprocess.Popen, timeout: float = 90) -> list[str]:
    def freight() -> list[str]:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            return list(instance.get_dynamic_partitions("kargo-demo/guestbook"))

    what = "the demo's Warehouse sensor to record Freight"
    return wait_until(freight, what=what, timeout=timeout, interval=1, process=process)


def stage_now(home: Path, stage: str) -> tuple[str | None, dict[str, str]]:
    """The Freight ``stage`` holds, with the states of its health and verified checks."""
    key = dg.AssetKey(["kargo-demo", "stage", stage])
    project = load_manifests(REPO / "stages").projects["kargo-demo"]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        with storage_session(instance) as session:
            state = read_pipeline_state(session, project, newest=0, stages=[stage])
    current = state.current_freight(key)
    if current is None:
        return None, {}
    checks = {c: state.check(key, c, current.freight).state for c in ("health", "verified")}
    return current.freight, checks


def published_tags() -> list[str]:
    """The guestbook versions in the demo's registry."""
    response = httpx.get("http://127.0.0.1:5123/v2/guestbook/tags/list", timeout=10)
    response.raise_for_status()
    return sorted(response.json()["tags"])


def wait_for_promotion(
    home: Path,
    process: subprocess.Popen,
    stage: str,
    *,
    verified: str = "passed",
    besides: str | None = None,
    timeout: float = 180,
) -> str:
    """The Freight (other than ``besides``) the daemon promoted into ``stage``, once its
    health check passed and its verified check ended ``verified``."""

    def promoted() -> str | None:
        current, states = stage_now(home, stage)
        if current is not None and current != besides:
            assert states["health"] != "failed", f"{stage}: {states}"
            if states == {"health": "passed", "verified": verified}:
                return current
            if verified == "passed":
                assert states["verified"] != "failed", f"{stage}: {states}"
        return None

    what = f"Freight promoted into {stage} with its verification {verified}"
    return wait_until(promoted, what=what, timeout=timeout, interval=1, process=process)


def wait_for_status(
    home: Path, process: subprocess.Popen, freight: str, wanted: str, timeout: float = 90
) -> str:
    """The description of the Freight status on ``freight``'s Warehouse partition, once it
    says ``wanted``."""
    key = dg.AssetKey(["kargo-demo", "warehouse", "guestbook"])
    said = [""]

    def status() -> str | None:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            records = instance.fetch_observations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=[freight]), limit=1
            ).records
        observation = records[0].asset_observation if records else None
        said[0] = (observation.description if observation else None) or ""
        return said[0] if wanted in said[0] else None

    return wait_until(
        status,
        what=lambda: f"the status of {freight} to say {wanted!r} (it says {said[0]!r})",
        timeout=timeout,
        interval=2,
        process=process,
    )


class CommandLine:
    """``kargo-dagster`` run as a person runs it beside the demo, in the repository."""

    def __init__(self, home: Path, port: int) -> None:
        self.env = {**os.environ, "DAGSTER_HOME": str(home), "USER": "ada"}
        self.url = f"http://127.0.0.1:{port}"

    def __call__(self, command: str, *arguments: str) -> str:
        extra = ["--url", self.url] if command in ("promote", "rollback") else []
        done = subprocess.run(
            [str(Path(sys.executable).parent / "kargo-dagster"), command, *arguments, *extra],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def launch_job(url: str, job: str, partition: str) -> str:
    """Launch ``job`` for ``partition`` as the UI's launchpad does; the run's ID."""
    located = httpx.post(
        f"{url}/graphql",
        json={"query": REPOSITORY_QUERY, "variables": {"job": job}},
        timeout=30,
    ).json()["data"]["repositoriesOrError"]["nodes"]
    [repository] = [r for r in located if any(j["name"] == job for j in r["jobs"])]
    params = {
        "selector": {
            "repositoryLocationName": repository["location"]["name"],
            "repositoryName": repository["name"],
            "jobName": job,
        },
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
    }
    launched = httpx.post(
        f"{url}/graphql",
        json={"query": LAUNCH_RUN, "variables": {"params": params}},
        timeout=30,
    ).json()["data"]["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


REPOSITORY_QUERY = """
query Repositories {
  repositoriesOrError {
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
  }
}
"""
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""


def wait_for_run(home: Path, process: subprocess.Popen, run_id: str, timeout: float = 90) -> None:
    """Wait for the daemon to run ``run_id`` to success."""

    def finished() -> dg.DagsterRun | None:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            run = instance.get_run_by_id(run_id)
        return run if run is not None and run.is_finished else None

    what = f"run {run_id} to finish"
    run = wait_until(finished, what=what, timeout=timeout, interval=1, process=process)
    assert run.status == dg.DagsterRunStatus.SUCCESS, run.status


def wait_for_hold(cli: CommandLine, stage: str, timeout: float = 90) -> str:
    """What ``kargo-dagster hold --stage`` says once the auto-promotion sensor placed one."""
    said = [""]

    def hold() -> str | None:
        said[0] = cli("hold", "--stage", stage)
        return said[0] if "is on hold" in said[0] else None

    return wait_until(
        hold,
        what=lambda: f"Stage {stage} to be put on hold (it says {said[0]!r})",
        timeout=timeout,
        interval=2,
    )


def test_the_broken_version_waits_for_staging_and_its_fix_comes_late(tmp_path):
    """The demo's world alone: v0.3.0 once staging runs v0.2.0, v0.4.0 ``fix_after`` later."""
    ports = {f"{name}_port": free_port() for name in ("registry", "git", "kube", "app")}
    with demo_services(tmp_path, publish_every=0.2, fix_after=3, **ports) as services:
        time.sleep(2)  # ten intervals: v0.3.0 waits for staging all the same
        waited = services.published()
        # v0.3.0 comes only after this commit, and its fix ``fix_after`` later still: however
        # late the test sees the fix, it cannot see it sooner than that after the commit.
        staging_ran = time.monotonic()
        # What the staging promotion of v0.2.0 pushes to the GitOps repository.
        services.gitops.commit(
            "staging: v0.2.0",
            {
                "env/staging/kustomization.yaml": "images:\n"
                "- name: 127.0.0.1/guestbook\n  newTag: v0.2.0\n"
            },
        )

        def with_the_fix() -> list[str] | None:
            published = services.published()
            return published if "v0.4.0" in published else None

        fixed = wait_until(
            with_the_fix, what=lambda: f"the fix v0.4.0 (published: {services.published()})"
        )
        fixed_after = time.monotonic() - staging_ran
    assert waited == ["v0.1.0", "v0.2.0"]
    assert {"v0.3.0", "v0.4.0"} <= set(fixed)
    # A lower bound, which a busy machine only makes larger: the fix came late.
    assert fixed_after >= 2.5


def test_demo_serves_the_example_pipeline(tmp_path):
    port = free_port()
    home = tmp_path / "home"
    # A home left by an older demo: its dagster.yaml gains the settings it lacks.
    home.mkdir()
    (home / "dagster.yaml").write_text(OLDER_DEMO_CONFIG)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "kargo-dagster"),
            "demo",
            "--port",
            str(port),
            "--home",
            str(home),
            # The demo publishes the broken v0.3.0 once staging runs v0.2.0, and waits minutes
            # before its fix whatever this says: a second keeps the test from waiting longer.
            "--publish-every",
            "1",
        ],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The demo starts its services, a webserver, a daemon and their code servers: on two
        # busy cores (the suite's other workers racing promotions) that takes minutes.
        data = wait_for_graphql(f"http://127.0.0.1:{port}/graphql", process)
        # The Warehouse sensor discovers the demo registry's newest image as Freight.
        freight = wait_for_freight(home, process)
        # The auto-promotion sensor promotes it into dev: the simulated Argo CD syncs
        # guestbook-dev, which passes health and the smoke test, so it flows on to staging.
        dev = wait_for_promotion(home, process, "dev")
        staging = wait_for_promotion(home, process, "staging")
        # v0.3.0 ships broken: the demo publishes it once staging runs v0.2.0; auto-promoted
        # into dev, it fails the smoke test there, so staging keeps v0.2.0.
        broken = wait_for_promotion(home, process, "dev", verified="failed", besides=dev)
        # The Freight status sensor writes where each Freight stands on its Warehouse partition.
        story = wait_for_status(home, process, broken, "dev: current, failed")
        overlay = subprocess.run(
            [
                "git",
                "--git-dir",
                str(home / "gitops" / "guestbook-gitops.git"),
                "show",
                "main:env/dev/kustomization.yaml",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # Prod waits for a person: approved from the UI's launchpad (prod would otherwise
        # want an hour of soak in staging), then promoted from the command line.
        approval = launch_job(f"http://127.0.0.1:{port}", "kargo_demo__approve__prod", staging)
        wait_for_run(home, process, approval)
        cli = CommandLine(home, port)
        # As the README's walkthrough does it: the Freight named by its version.
        cli("promote", "--stage", "prod", "--freight", "v0.2.0")
        prod = wait_for_promotion(home, process, "prod")
        # Nothing has moved dev off the broken version: its fix is still minutes away.
        stuck = stage_now(home, "dev")
        tags_before_rollback = published_tags()
        # Dev rolls back from the broken version; auto-promotion holds off from then on.
        cli("rollback", "--stage", "dev")
        rolled_back = wait_for_promotion(home, process, "dev", besides=broken)
        hold = wait_for_hold(cli, "dev")
        history = cli("history", "--stage", "dev", "--json")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            held = current_freight(instance, dg.AssetKey(["kargo-demo", "stage", "staging"]))
            apps = instance.get_runs(dg.RunsFilter(tags={"kargo/project": "kargo-demo"}))
            tags = [(r.tags.get("kargo/stage"), r.tags.get("kargo/action")) for r in apps]
        lineage = lineage_in_browser(
            f"http://127.0.0.1:{port}/asset-groups/kargo_demo", tmp_path / "chromium"
        )
        # The dev Stage's partitions: one per Freight, the good one and the broken one.
        partitions = visible_text(
            rendered_dom(
                f"http://127.0.0.1:{port}/assets/kargo-demo/stage/dev?view=partitions",
                tmp_path / "chromium",
            )
        )
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    # The demo's terminal shows INFO and above: no run repeats its events at DEBUG.
    debug = [line for line in output.splitlines() if re.search(r"\bDEBUG\b", line)]
    assert not debug, debug[:10]
    # No "Join the Dagster community" dialog over the UI, though the home was an older demo's.
    settings = yaml.safe_load((home / "dagster.yaml").read_text())
    assert settings["concurrency"] == {"pools": {"default_limit": 1}}
    assert settings["nux"] == {"enabled": False}
    assert settings["python_logs"] == {"python_log_level": "INFO"}
    assert "Join the Dagster community" not in partitions
    assert "next v0.3.0, which ships broken, once staging runs v0.2.0" in output
    # The pipeline left to right; the Project's delivery metrics and pipeline view stand apart.
    assert [name for name in lineage if name not in APART] == [
        "guestbook",
        "dev",
        "staging",
        "prod",
    ]
    assert set(APART) <= set(lineage)
    nodes = {
        "/".join(n["assetKey"]["path"]): n
        for n in data["assetNodes"]
        if n["assetKey"]["path"][1] not in APART
    }
    deps = {key: ["/".join(d["path"]) for d in n["dependencyKeys"]] for key, n in nodes.items()}
    assert deps == {
        "kargo-demo/warehouse/guestbook": [],
        "kargo-demo/stage/dev": ["kargo-demo/warehouse/guestbook"],
        "kargo-demo/stage/staging": ["kargo-demo/stage/dev"],
        "kargo-demo/stage/prod": ["kargo-demo/stage/staging"],
    }
    assert {n["groupName"] for n in nodes.values()} == {"kargo_demo"}
    assert {n["partitionDefinition"]["name"] for n in nodes.values()} == {"kargo-demo/guestbook"}
    assert {"git", "kustomize"} <= set(nodes["kargo-demo/stage/dev"]["kinds"])
    assert "registry 127.0.0.1:5123/guestbook (tags: v0.1.0, v0.2.0)" in output
    assert "Argo CD (simulated) Applications guestbook-<stage> at http://127.0.0.1:8432" in output
    # Stopping the demo stops the webserver and the daemon with it.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    assert (home / "dagster.yaml").exists()
    assert len(freight) == 1
    assert dev == staging == freight[0]
    assert broken != dev
    assert dev in partitions
    assert broken in partitions
    assert story == f"Freight {broken} (dev: current, failed)"
    # The broken version stayed in dev, failing its verification, until the rollback.
    assert broken.startswith("v0.3.0-")
    assert stuck == (broken, {"health": "passed", "verified": "failed"})
    assert tags_before_rollback == ["v0.1.0", "v0.2.0", "v0.3.0"]
    assert prod == staging
    assert rolled_back == dev
    assert f"Stage dev is on hold with {dev}" in hold
    rows = json.loads(history)
    actions = [(row["freight"], row["action"], row["result"]) for row in rows]
    assert actions[0] == (dev, "rollback", "succeeded")
    assert (broken, "auto-promote", "failed") in actions  # it failed its verification
    [failed] = [row for row in rows if row["freight"] == broken]
    assert failed["reason"].startswith("verified failed"), failed
    assert held is not None and held.partition_key == staging
    assert ("dev", "auto-promote") in tags
    assert ("staging", "auto-promote") in tags
    # Prod is never auto-promoted: it was approved from the UI and promoted by hand.
    assert ("prod", "auto-promote") not in tags
    assert ("prod", "promote") in tags
    assert ("prod", "approve") in tags
    # dev runs the broken version (the gate stops it from going further, not from deploying).
    assert "- name: 127.0.0.1:5123/guestbook\n  newTag: v0.3.0\n" in overlay

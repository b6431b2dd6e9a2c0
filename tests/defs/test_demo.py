"""`kargo-dagster demo`: the README's first command serves the example pipeline."""

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

from kargo_dagster import load_definitions
from kargo_dagster.defs.resources import ArgoCDKubernetes, ArgoCDSettings, KargoResource
from tests.defs.promotions import check_json, failure_message, promote

REPO = Path(__file__).parents[2]

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_graphql(url: str, process: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        assert process.poll() is None, "the demo exited early"
        try:
            response = httpx.post(url, json={"query": LINEAGE_QUERY}, timeout=10)
            data = response.json()["data"]
            daemons = data["instance"]["daemonHealth"]["allDaemonStatuses"]
            if data["assetNodes"] and all(d["healthy"] for d in daemons if d["required"]):
                return data
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as error:
            last_error = error
        time.sleep(1)
    raise AssertionError(f"the demo did not come up: {last_error}")


def lineage_in_browser(url: str, profile: Path) -> list[str]:
    """The asset names of the lineage graph as headless Chromium lays them out, left to right."""
    chromium = shutil.which("chromium")
    assert chromium, "the UI test needs Debian's chromium (installed by .ci/run)"
    dom = subprocess.run(
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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the demo exited early"
        with dg.DagsterInstance.from_config(str(home)) as instance:
            keys = list(instance.get_dynamic_partitions("kargo-demo/guestbook"))
        if keys:
            return keys
        time.sleep(1)
    raise AssertionError("the demo's Warehouse sensor recorded no Freight")


def test_demo_serves_the_example_pipeline(tmp_path):
    port = free_port()
    home = tmp_path / "home"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "kargo-dagster"),
            "demo",
            "--port",
            str(port),
            "--home",
            str(home),
        ],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        data = wait_for_graphql(f"http://127.0.0.1:{port}/graphql", process)
        # The Warehouse sensor discovers the demo registry's newest image as Freight.
        freight = wait_for_freight(home, process)
        # Promoting it into dev pushes to the demo's GitOps repository.
        argocd = ArgoCDSettings(
            kubernetes=ArgoCDKubernetes(host="http://127.0.0.1:8432"), poll_interval_seconds=0.2
        )
        kargo = KargoResource(work_dir=str(tmp_path / "work"), argocd=argocd)
        defs = load_definitions(REPO / "stages", resources={"kargo": kargo})
        with dg.DagsterInstance.from_config(str(home)) as instance:
            promoted = promote(
                defs, instance, dg.AssetKey(["kargo-demo", "stage", "dev"]), freight[0]
            )
        assert promoted.success, failure_message(promoted)
        # ...and the simulated Argo CD syncs guestbook-dev to it: the Stage is healthy.
        checks = {e.check_name: e for e in promoted.get_asset_check_evaluations()}
        assert checks["health"].passed, checks["health"].description
        [row] = checks["health"].metadata["applications"].value.records  # type: ignore[union-attr]
        assert (row.data["name"], row.data["status"]) == ("guestbook-dev", "Healthy")
        # The smoke test asks the guestbook stand-in which version dev runs: the promoted one.
        assert checks["verified"].passed, checks["verified"].description
        verification = check_json(checks["verified"], "verification")
        assert {m["phase"] for m in verification["measurements"]} == {"Successful"}
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
        lineage = lineage_in_browser(
            f"http://127.0.0.1:{port}/asset-groups/kargo_demo", tmp_path / "chromium"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert lineage == ["guestbook", "dev", "staging", "prod"]
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
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
    assert "- name: 127.0.0.1:5123/guestbook\n  newTag: v0.2.0\n" in overlay

"""`kargo-dagster demo`: the README's first command serves the example pipeline."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

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
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
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
    assert "argocd" in nodes["kargo-demo/stage/dev"]["kinds"]
    assert "sample Freight" in output
    # Stopping the demo stops the webserver and the daemon with it.
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    assert (home / "dagster.yaml").exists()

"""A running Dagster (webserver and daemon) turns a newly pushed tag into one new Freight.

This is the whole loop a user sees: a Warehouse sensor on the daemon polls the registry,
records the new Freight as a partition with its artifacts, and ``kargo-dagster discover``
gives the same answer from the command line.
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
from alembic.util.exc import CommandError
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from kargo_dagster.testing.oci_push import push_image
from kargo_dagster.testing.polling import wait_until
from kargo_dagster.testing.registry import LocalRegistry, free_port
from tests.server_probe import answers

# The demo's services listen on fixed ports: one such test at a time.
pytestmark = pytest.mark.usefixtures("demo_ports")

INTERVAL = 5
MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: e2e
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: e2e
spec:
  interval: {interval}s
  subscriptions:
  - image:
      repoURL: {repo}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  namespace: e2e
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
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


def partitions(home: Path) -> list[str]:
    if not (home / "dagster.yaml").exists():
        return []
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            return list(instance.get_dynamic_partitions("e2e/app"))
    except CommandError:
        # The webserver and the daemon create the SQLite storages side by side at start-up;
        # reading one mid-migration finds two alembic heads. The wait loop asks again.
        return []


def ended_ticks(home: Path, since: float) -> int:
    """How many ticks of the Warehouse's discovery sensor started after ``since`` and ended."""
    ended = 0
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for sensor in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if sensor.instigator_name == "e2e__app__discovery":
                ids = (sensor.instigator_origin_id, sensor.selector_id)
                ticks = instance.get_ticks(*ids, after=since)
                ended += sum(tick.status != TickStatus.STARTED for tick in ticks)
    return ended


def test_a_pushed_tag_becomes_one_new_freight(tmp_path):
    bin_dir = Path(sys.executable).parent
    with LocalRegistry() as registry:
        repo = registry.repo_url("e2e/app")
        push_image(registry, "e2e/app", "v1.0.0")
        (tmp_path / "stages").mkdir()
        (tmp_path / "stages" / "e2e.yaml").write_text(
            MANIFESTS.format(interval=INTERVAL, repo=repo)
        )
        (tmp_path / "definitions.py").write_text(DEFINITIONS)
        (tmp_path / "workspace.yaml").write_text(WORKSPACE)
        home = tmp_path / "home"
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},
            "KARGO_DAGSTER_MIN_WAREHOUSE_INTERVAL": str(INTERVAL),
            "KARGO_DAGSTER_WORK_DIR": str(tmp_path / "work"),
        }
        demo = subprocess.Popen(
            [
                str(bin_dir / "kargo-dagster"),
                "demo",
                "--workspace",
                str(tmp_path / "workspace.yaml"),
                "--home",
                str(home),
                "--port",
                str(port),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            # Read the instance only once the webserver has created and migrated it.
            # Generous bounds: on two cores shared with the suite's other workers, the daemon
            # can take minutes to start its sensors. How fast belongs to bench/discovery.py.
            wait_until(
                lambda: answers(f"http://127.0.0.1:{port}/server_info"),
                what="Dagster to answer",
                timeout=300,
                interval=0.5,
                process=demo,
            )
            wait_until(
                lambda: len(partitions(home)) == 1,
                what="the first Freight",
                timeout=300,
                interval=0.5,
                process=demo,
            )
            push_image(registry, "e2e/app", "v1.1.0")
            wait_until(
                lambda: len(partitions(home)) == 2,
                what="the new Freight",
                timeout=180,
                interval=0.5,
                process=demo,
            )
            # Two more ticks, begun once the new Freight was recorded: nothing is created twice.
            since = time.time()
            wait_until(
                lambda: ended_ticks(home, since) >= 2,
                what="two more discovery ticks",
                timeout=180,
                interval=0.5,
                process=demo,
            )
            keys = partitions(home)
        finally:
            demo.send_signal(signal.SIGTERM)
            output, _ = demo.communicate(timeout=60)
        assert demo.returncode == 0, output
        assert len(keys) == 2

        with dg.DagsterInstance.from_config(str(home)) as instance:
            record = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey(["e2e", "warehouse", "app"]), asset_partitions=[keys[1]]
                ),
                limit=5,
            ).records
        assert len(record) == 1
        freight = record[0].asset_materialization.metadata["kargo/freight"].value  # type: ignore[union-attr]
        assert freight["images"][0]["tag"] == "v1.1.0"  # type: ignore[index]

        discovered = subprocess.run(
            [str(bin_dir / "kargo-dagster"), "discover", str(tmp_path / "stages"), "--json"],
            env={**env, "KARGO_DAGSTER_WORK_DIR": str(tmp_path / "cli-work")},
            capture_output=True,
            text=True,
            check=True,
        )
        [warehouse] = json.loads(discovered.stdout)
        assert warehouse["freight"]["key"] == keys[1]

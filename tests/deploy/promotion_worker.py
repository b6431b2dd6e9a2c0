"""One worker of the separate-pods test: runs promotions as run pods do, each on a fresh disk.

Run as ``python -m tests.deploy.promotion_worker SPEC.json``. The spec names the manifests,
the promotions to run in turn (Stage, Freight) and where work directories go. Each promotion
gets an empty work directory of its own (a new pod's disk) unless the spec says the runs
share one (a ReadWriteMany volume). The instance comes from ``DAGSTER_HOME``. Once loaded,
the worker creates the spec's ``ready`` file and waits for its ``start`` file, so that all
workers race, and prints one JSON line per promotion: the run's ID and whether it succeeded.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from kargo_dagster import load_definitions
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.testing.polling import wait_until
from tests.defs.promotions import promote


def main(spec_file: str) -> None:
    spec = json.loads(Path(spec_file).read_text())
    work_root = Path(spec["work_root"])
    with dg.DagsterInstance.get() as instance:
        Path(spec["ready"]).touch()
        start = Path(spec["start"])
        wait_until(start.exists, what="the start signal", timeout=300, interval=0.01)
        for stage, freight in spec["promotions"]:
            if spec["shared_work_dir"]:
                work_dir = work_root / "shared"
            else:
                work_dir = Path(tempfile.mkdtemp(prefix=f"{stage}-", dir=work_root))
            began = time.time()
            kargo = KargoResource(work_dir=str(work_dir))
            defs = load_definitions(spec["manifests"], resources={"kargo": kargo})
            key = dg.AssetKey([spec["project"], "stage", stage])
            result = promote(defs, instance, key, freight)
            report = {"run": result.run_id, "stage": stage, "ok": result.success}
            print(json.dumps({**report, "seconds": round(time.time() - began, 2)}))
            sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])

"""The cost of ``kargo-dagster validate`` on the demo manifests, against what it cannot avoid.

Each figure is the median wall time of a fresh process over :data:`ROUNDS` runs:

- ``validate_seconds``: ``python -m kargo_dagster.cli validate stages/`` (for the record; it
  depends on the machine);
- ``validate_over_loading``: that time divided by a process that only loads the same
  manifests (``load_manifests``), the floor every ``validate`` pays: what the static checks
  add, imports included, shows as the ratio above 1;
- ``validate_over_interpreter``: that time divided by a bare ``python -c pass``.

Run with the project's virtual environment from the repository root:
``.venv/bin/python bench/validate_startup.py``. The last line printed is one JSON object.
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "stages"
ROUNDS = 9

VALIDATE = [sys.executable, "-m", "kargo_dagster.cli", "validate", str(MANIFESTS)]
LOADING = [
    sys.executable,
    "-c",
    f"from kargo_dagster.spec import load_manifests; load_manifests({str(MANIFESTS)!r})",
]
INTERPRETER = [sys.executable, "-c", "pass"]


def median_seconds(command: list[str]) -> float:
    """The median wall time of running ``command`` to completion, :data:`ROUNDS` times."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    validate = median_seconds(VALIDATE)
    report = {
        "validate_seconds": round(validate, 3),
        "validate_over_loading": round(validate / median_seconds(LOADING), 2),
        "validate_over_interpreter": round(validate / median_seconds(INTERPRETER), 1),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()

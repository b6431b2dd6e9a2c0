"""`kargo-dagster validate`: exit 0 on good manifests, one line per problem otherwise."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kargo_dagster.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def test_validate_accepts_the_example_stages():
    result = run("validate", "stages")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("Project kargo-demo: 1 Warehouse(s), 3 Stage(s), 1 PromotionTask(s)\n")


def test_validate_reports_file_line_kind_name_and_field(tmp_path):
    broken = tmp_path / "stages"
    broken.mkdir()
    for manifest in (REPO / "stages").glob("*.yaml"):
        (broken / manifest.name).write_text(manifest.read_text())
    stages = broken / "stages.yaml"
    text = stages.read_text().replace("      - dev\n", "      - dve\n", 1)
    stages.write_text(text)
    line = text.splitlines().index("      - dve") + 1
    result = run("validate", str(broken))
    assert result.returncode == 1
    assert result.stdout == ""
    [problem] = result.stderr.splitlines()
    assert problem.startswith(
        f"{stages}:{line}: Stage/staging: spec.requestedFreight.0.sources.stages.0: "
    )
    assert "dve" in problem and "dev" in problem

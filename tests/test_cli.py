"""`kargo-dagster validate`: exit 0 on good manifests, one line per problem otherwise."""

import subprocess
import sys
from pathlib import Path

from tests.manifests import manifests_yaml, project, warehouse

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


def test_validate_warns_of_empty_files_and_other_kinds(tmp_path):
    manifests = tmp_path / "stages"
    manifests.mkdir()
    for manifest in (REPO / "stages").glob("*.yaml"):
        (manifests / manifest.name).write_text(manifest.read_text())
    (manifests / "empty.yaml").write_text("# nothing yet\n")
    (manifests / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    result = run("validate", str(manifests))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("Project kargo-demo: 1 Warehouse(s), 3 Stage(s), 1 PromotionTask(s)\n")
    assert result.stderr.splitlines() == [
        f"{manifests}/empty.yaml:1: warning: (document): no YAML documents in the file; "
        "nothing read",
        f"{manifests}/other.yaml:2: warning: ConfigMap/x: kind 'ConfigMap' is not one "
        "kargo-dagster reads; skipped",
    ]


def test_validate_prints_warnings_before_the_problems(tmp_path):
    (tmp_path / "a.yaml").write_text("")
    (tmp_path / "b.yaml").write_text("a: 1\nb: !!python/object:os.system {}\n")
    result = run("validate", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    warning, problem = result.stderr.splitlines()
    assert warning.startswith(f"{tmp_path}/a.yaml:1: warning: ")
    assert problem.startswith(f"{tmp_path}/b.yaml:2: (document): the tag !!python/object:")


# Nothing listens on 127.0.0.1:9, so discovery fails.
DISCOVER_MANIFESTS = manifests_yaml(
    project("demo"), warehouse("app", "demo", image="127.0.0.1:9/app")
)


def test_discover_names_the_failing_subscription(tmp_path):
    (tmp_path / "w.yaml").write_text(DISCOVER_MANIFESTS)
    result = run("discover", str(tmp_path), "--work-dir", str(tmp_path / "work"))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "Warehouse demo/app"
    assert lines[1] == "  subscriptions[0] (image 127.0.0.1:9/app):"
    assert lines[2].startswith("    error: ") and "127.0.0.1:9" in lines[2]
    assert "  no Freight: discovery failed" in lines


def test_discover_rejects_an_unknown_warehouse(tmp_path):
    (tmp_path / "w.yaml").write_text(DISCOVER_MANIFESTS)
    result = run("discover", str(tmp_path), "--warehouse", "nope")
    assert result.returncode == 1
    assert result.stderr == f"kargo-dagster: no Warehouse nope in {tmp_path} (found: app)\n"

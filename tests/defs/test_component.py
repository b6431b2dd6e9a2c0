"""The ``kargo_dagster.KargoProject`` Component, in process and through the real ``dg`` CLI.

The ``dg`` tests build a minimal dg project in a temporary directory (importable through
PYTHONPATH, so nothing is installed into the environment) and run ``dg`` from this
environment as a user would: scaffold, check and list.
"""

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import dagster as dg
import pytest
from pydantic import ValidationError

import kargo_dagster
from kargo_dagster import KargoProject
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.errors import ManifestError
from tests import manifests as m

STAGES = Path(__file__).parents[2] / "stages"
DEMO_ASSETS = {
    "kargo-demo/warehouse/guestbook",
    "kargo-demo/stage/dev",
    "kargo-demo/stage/staging",
    "kargo-demo/stage/prod",
}


def shop(path: Path, *, upstream: str = "dev") -> Path:
    """Project shop: Warehouse app, Stage dev from it and Stage prod from ``upstream``."""
    steps = [m.step("compose-output", tag=m.image_tag("ghcr.io/acme/app"))]
    return m.write_manifests(
        path,
        m.project("shop"),
        m.warehouse("app", "shop", image="ghcr.io/acme/app"),
        m.stage("dev", "shop", requested=[m.requested("app")], steps=steps),
        m.stage("prod", "shop", requested=[m.requested("app", stages=[upstream])], steps=steps),
    )


def asset_keys(defs: dg.Definitions) -> set[str]:
    return {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}


# In process.


def test_yaml_attributes_build_what_load_definitions_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_TEST_WORK", str(tmp_path / "work"))
    monkeypatch.setenv("GHCR_TOKEN", "s3cret")
    shop(tmp_path / "shop.yaml")
    component = KargoProject.resolve_from_yaml(f"""
path: {tmp_path / "shop.yaml"}
kargo:
  work_dir: "{{{{ env.KD_TEST_WORK }}}}"
  credentials:
  - type: image
    repo_url: ghcr.io/acme/app
    username: bot
    password: "{{{{ env.GHCR_TOKEN }}}}"
  argocd:
    rest:
      url: https://argocd.example.com
      token: "{{{{ env('ARGOCD_TOKEN') }}}}"
executor: multiprocess
min_warehouse_interval_seconds: 900
""")
    kargo = component.kargo
    assert kargo.work_dir == str(tmp_path / "work")
    # Secrets stay environment variables, so the UI shows their names, not their values.
    password = kargo.credentials[0].password
    assert isinstance(password, dg.EnvVar) and password == "GHCR_TOKEN"
    assert kargo.argocd is not None and kargo.argocd.rest is not None
    assert isinstance(kargo.argocd.rest.token, dg.EnvVar)
    assert kargo.argocd.rest.token == "ARGOCD_TOKEN"

    defs = dg.build_defs_for_component(component)
    assert asset_keys(defs) == {
        "shop/warehouse/app",
        "shop/stage/dev",
        "shop/stage/prod",
        "shop/delivery-metrics",
        "shop/pipeline",
    }
    assert defs.resources == {"kargo": kargo}
    assert defs.executor is dg.multiprocess_executor
    sensor = defs.resolve_sensor_def("shop__app__discovery")
    assert sensor.minimum_interval_seconds == 900  # the floor, above the default 5m


def test_defaults_and_python_use(tmp_path, monkeypatch):
    shop(tmp_path / "shop.yaml")
    monkeypatch.chdir(tmp_path)  # outside a defs folder, the path is relative to the cwd
    defs = dg.build_defs_for_component(KargoProject(path="shop.yaml"))
    assert "shop/stage/prod" in asset_keys(defs)
    assert defs.executor is dg.in_process_executor
    assert defs.resources == {"kargo": KargoResource()}


def test_misspelt_resource_settings_are_refused(tmp_path):
    # KargoResource itself would ignore the unknown key and quietly keep no credentials.
    with pytest.raises(ValidationError) as caught:
        KargoProject.resolve_from_yaml("""
kargo:
  credentials:
  - type: image
    repo_url: ghcr.io/acme/app
    pasword: x
""")
    problems = {str(e["loc"][-1]): e["type"] for e in caught.value.errors()}
    assert problems["kargo.KargoResource.credentials.0.pasword at <string>:2"] == "extra_forbidden"


def test_bad_manifests_raise_the_manifest_error(tmp_path):
    path = shop(tmp_path / "shop.yaml", upstream="dve")
    with pytest.raises(ManifestError) as caught:
        dg.build_defs_for_component(KargoProject(path=str(path)))
    assert "Stage/prod: spec.requestedFreight.0.sources.stages.0:" in str(caught.value)


def test_components_with_the_same_settings_share_one_resource(tmp_path):
    shop(tmp_path / "shop.yaml")
    other = m.write_manifests(
        tmp_path / "other.yaml", m.project("other"), m.warehouse("app", "other", image="x/app")
    )
    first, second = (
        dg.build_defs_for_component(KargoProject(path=str(path), kargo=KargoResource(helm="h")))
        for path in (tmp_path / "shop.yaml", other)
    )
    merged = dg.Definitions.merge(first, second)  # refuses two objects under one key
    assert {"shop/stage/prod", "other/warehouse/app"} <= asset_keys(merged)


def test_dg_finds_the_component_through_the_entry_point():
    registered = {e.value for e in entry_points(group="dagster_dg_cli.registry_modules")}
    assert "kargo_dagster" in registered
    # dg lists a registry module's members with dir(); the lazy export must be among them.
    assert "KargoProject" in dir(kargo_dagster)


# Through dg.


def dg_executable() -> str:
    """The ``dg`` of this environment; missing, the dev extras were not installed."""
    beside = Path(sys.executable).parent / "dg"
    found = str(beside) if beside.exists() else shutil.which("dg")
    if found is None:
        pytest.fail("dg is missing: install the dev extras (pip install -e '.[dev]')")
    return found


def dg_project(root: Path) -> Path:
    """A minimal dg project, ``kd_project`` under ``src/``, with an empty ``defs/``."""
    package = root / "src" / "kd_project"
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(
        "from pathlib import Path\n\n"
        "import dagster as dg\n\n\n"
        "@dg.definitions\n"
        "def defs() -> dg.Definitions:\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n"
    )
    (root / "pyproject.toml").write_text(
        '[project]\nname = "kd-project"\nversion = "0.0.0"\n\n'
        '[tool.dg]\ndirectory_type = "project"\n\n'
        '[tool.dg.project]\nroot_module = "kd_project"\n\n'
        "[tool.dg.cli.telemetry]\nenabled = false\n"
    )
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return package / "defs"


def run_dg(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(project / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "DAGSTER_HOME": str(project / "dagster_home"),
        "NO_COLOR": "1",
    }
    env.pop("GHCR_TOKEN", None)
    return subprocess.run(
        [dg_executable(), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_scaffold_check_and_list_with_dg(tmp_path):
    defs_dir = dg_project(tmp_path)

    scaffolded = run_dg(tmp_path, "scaffold", "defs", "kargo_dagster.KargoProject", "kargo")
    assert scaffolded.returncode == 0, scaffolded.stdout + scaffolded.stderr
    folder = defs_dir / "kargo"
    assert (folder / "defs.yaml").read_text().startswith("type: kargo_dagster.KargoProject\n")
    assert (folder / "manifests" / "pipeline.yaml").is_file()

    # The scaffolded example loads as it is.
    checked = run_dg(tmp_path, "check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully." in checked.stdout

    # Pointed at the repository's stages/, with resource settings (GHCR_TOKEN is not set: a
    # secret is read when used).
    shutil.copytree(STAGES, folder / "stages")
    (folder / "defs.yaml").write_text("""\
type: kargo_dagster.KargoProject
attributes:
  path: stages
  kargo:
    work_dir: "{{ env.DAGSTER_HOME }}/kargo"
    credentials:
    - type: image
      repo_url: ghcr.io/acme/app
      password: "{{ env.GHCR_TOKEN }}"
  min_warehouse_interval_seconds: 60
""")
    listed = run_dg(tmp_path, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    listing = json.loads(listed.stdout)
    keys = {a["asset_key"] for a in listing["assets"]}
    assert DEMO_ASSETS <= keys
    assert not any(k.startswith("kargo/") for k in keys)  # the example is gone
    assert {c["name"] for c in listing["asset_checks"]} == {"health", "verified"}
    assert "kargo_demo__guestbook__discovery" in {s["name"] for s in listing["sensors"]}
    assert [r["name"] for r in listing["resources"]] == ["kargo"]


def test_dg_check_reports_bad_manifests_by_file_line_and_field(tmp_path):
    defs_dir = dg_project(tmp_path)
    demo = defs_dir / "demo"
    shutil.copytree(STAGES, demo / "stages")
    (demo / "defs.yaml").write_text(
        "type: kargo_dagster.KargoProject\nattributes:\n  path: stages\n"
    )
    stages = demo / "stages" / "stages.yaml"
    lines = stages.read_text().splitlines(keepends=True)
    line = next(i for i, text in enumerate(lines) if text.strip() == "- dev")
    lines[line] = lines[line].replace("- dev", "- dve")
    stages.write_text("".join(lines))

    checked = run_dg(tmp_path, "check", "defs")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    output = checked.stdout + checked.stderr
    assert "ManifestError" in output
    assert (
        f"{stages}:{line + 1}: Stage/staging: spec.requestedFreight.0.sources.stages.0: " in output
    )

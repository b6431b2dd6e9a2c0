"""What `kargo-dagster` tells a user up front: refusals before launching, Freight named by
version, ID or alias with suggestions when mistyped, `--wait` outcomes, and commands run
from any directory of the project."""

import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.promotion_outcomes import follow_run
from kargo_dagster.defs.state_records import RunOutcome
from kargo_dagster.errors import InstanceError
from kargo_dagster.freight import Freight, FreightOrigin, GitCommit, Image
from kargo_dagster.testing import free_port
from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler
from tests.defs.test_pipeline import SHOP, app_freight
from tests.manifests import project, requested, stage, step, warehouse, write_manifests

DEFINITIONS = "from kargo_dagster import load_definitions\ndefs = load_definitions({path!r})\n"


@pytest.fixture
def home(instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    """The test instance, as the command line finds it (``DAGSTER_HOME``)."""
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    return instance


def definitions_for(tmp_path: Path, manifests: Path) -> str:
    file = tmp_path / "definitions.py"
    file.write_text(DEFINITIONS.format(path=str(manifests)))
    return str(file)


def local(tmp_path: Path, stage_name: str, manifests: Path = SHOP) -> list[str]:
    definitions = definitions_for(tmp_path, manifests)
    return [
        "--path",
        str(manifests),
        "--stage",
        stage_name,
        "--local",
        "--definitions",
        definitions,
    ]


# Refusals before launching.


def test_unavailable_freight_is_refused_before_any_run(home, tmp_path, capsys):
    key = record_freight(home, "shop", app_freight("v1.0.0"))
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: a launch would say so
    shop = ["--path", str(SHOP), "--stage", "staging"]
    for arguments in (
        ["promote", *shop, "--freight", "v1.0.0", "--url", url],
        ["promote", *local(tmp_path, "staging"), "--freight", key, "--wait"],
        ["rollback", *shop, "--to", key, "--url", url],
    ):
        assert main(arguments) == 1, arguments
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.splitlines() == [
            f"kargo-dagster: Freight {key} is not available to Stage staging: it must be "
            "verified in Stage dev, but it is not verified in Stage dev (never promoted there). "
            "Promote it to Stage dev and let it verify, or approve it for Stage staging.",
            "  Nothing was launched. To approve it: kargo-dagster approve --path "
            f"{SHOP} --stage staging --freight {key}",
        ]
    assert home.get_runs() == []
    # Approved, the same promotion goes ahead.
    assert main(["approve", *shop, "--freight", key, "--actor", "alice"]) == 0
    assert main(["promote", *local(tmp_path, "staging"), "--freight", key]) == 0


def test_freight_of_a_warehouse_the_stage_does_not_request_is_refused(home, capsys):
    commit = GitCommit(repo_url="https://git.example.com/shop/config.git", id="a" * 40)
    config = record_freight(
        home, "shop", Freight(origin=FreightOrigin(name="config"), commits=(commit,))
    )
    arguments = ["promote", "--path", str(SHOP), "--stage", "dev", "--freight", config]
    assert main(arguments) == 1
    error = capsys.readouterr().err
    assert error.startswith(
        f"kargo-dagster: no Freight {config} recorded by the Warehouse(s) Stage dev requests (app)"
    )
    assert "Warehouse app has recorded no Freight yet" in error
    assert home.get_runs() == []


# Naming Freight.


def test_freight_is_found_by_version_id_prefix_and_alias(home, capsys):
    v1 = app_freight("v1.2.3")
    key = record_freight(home, "shop", v1)
    record_freight(home, "shop", app_freight("v1.3.0"))
    approve = ["approve", "--path", str(SHOP), "--stage", "staging", "--actor", "alice"]
    for given in ("v1.2.3", "1.2.3", v1.id[:7], v1.id.upper()[:10], v1.alias, key):
        assert main([*approve, "--freight", given]) == 0, given
        assert capsys.readouterr().out == f"Freight {key} approved for Stage staging by alice\n"


def test_a_version_several_freight_share_is_ambiguous(home, capsys):
    first = record_freight(home, "shop", app_freight("v1.0.0"))
    # The tag was pushed again: same tag, another digest, other Freight.
    moved = Image(
        repo_url="registry.example.com/shop/app", tag="v1.0.0", digest="sha256:" + "f" * 64
    )
    second = record_freight(
        home, "shop", Freight(origin=FreightOrigin(name="app"), images=(moved,))
    )
    arguments = ["approve", "--path", str(SHOP), "--stage", "dev", "--freight", "v1.0.0"]
    assert main(arguments) == 1
    assert capsys.readouterr().err == (
        f"kargo-dagster: v1.0.0 names 2 Freight of Stage dev's Warehouse(s): {second} (v1.0.0); "
        f"{first} (v1.0.0). Give one of these partition keys\n"
    )


def test_a_mistyped_freight_gets_suggestions_and_the_newest(home, capsys):
    keys = [record_freight(home, "shop", app_freight(f"v1.{minor}.0")) for minor in range(7)]
    arguments = ["promote", "--path", str(SHOP), "--stage", "dev", "--freight", keys[3] + "x"]
    assert main(arguments) == 1
    error = capsys.readouterr().err
    assert f"kargo-dagster: no Freight {keys[3]}x recorded by the Warehouse(s) Stage dev " in error
    assert f"did you mean {keys[3]!r}" in error
    newest = ", ".join(f"{k} (v1.{m}.0)" for m, k in list(enumerate(keys))[::-1][:5])
    assert error.endswith(f"(newest of Warehouse app: {newest})\n")
    assert home.get_runs() == []


def test_a_mistyped_warehouse_gets_a_suggestion():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kargo_dagster.cli",
            "discover",
            "stages",
            "--warehouse",
            "guestbok",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "kargo-dagster: no Warehouse guestbok in stages; did you mean 'guestbook'? "
        "(found: guestbook)\n"
    )


# --wait.


def test_wait_reports_a_local_promotion_that_succeeded(home, tmp_path, capsys):
    key = record_freight(home, "shop", app_freight("v2.0.0"))
    assert main(["promote", *local(tmp_path, "dev"), "--freight", "v2.0.0", "--wait"]) == 0
    [run] = home.get_runs()
    assert capsys.readouterr().out == (
        f"Run {run.run_id} promoting Freight {key} into dev succeeded\n"
    )


def test_wait_reports_a_local_promotion_that_failed(home, tmp_path, capsys):
    manifests = write_manifests(
        tmp_path / "broken.yaml",
        project("shop"),
        warehouse("app", "shop", image="registry.example.com/shop/app"),
        stage(
            "dev",
            "shop",
            requested=[requested("app")],
            # An image the Freight does not carry: the step fails, and says so.
            steps=[step("compose-output", tag='${{ imageFrom("example.com/other").Tag }}')],
        ),
    )
    key = record_freight(home, "shop", app_freight("v2.0.0"))
    arguments = ["promote", *local(tmp_path, "dev", manifests), "--freight", key, "--wait"]
    assert main(arguments) == 1
    [run] = home.get_runs()
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"Run {run.run_id} promoting Freight {key} into dev failed: ")
    assert "example.com/other" in line


class _Webserver(QuietHandler):
    """A Dagster webserver's GraphQL API, as far as ``promote`` uses it: it knows the Stage
    asset and its jobs, and runs a launched run at once, in this process, as its daemon would
    run it."""

    defs: ClassVar[dg.Definitions]
    instance: ClassVar[dg.DagsterInstance]
    launched: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "assetNodeOrError" in body["query"]:
            data = {
                "assetNodeOrError": {
                    "__typename": "AssetNode",
                    "jobNames": ["__ASSET_JOB", "shop__promote__dev"],
                    "repository": {"name": "__repository__", "location": {"name": "here"}},
                }
            }
        else:
            params = body["variables"]["params"]
            type(self).launched.append(params)
            tags = {t["key"]: t["value"] for t in params["executionMetadata"]["tags"]}
            job = self.defs.resolve_job_def(params["selector"]["jobName"])
            result = job.execute_in_process(
                partition_key=tags["dagster/partition"],
                instance=self.instance,
                tags=tags,
                raise_on_error=False,
            )
            data = {
                "launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": result.run_id}}
            }
        answer = json.dumps({"data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def test_wait_follows_a_run_launched_through_the_webserver(home, tmp_path, capsys):
    _Webserver.defs = load_definitions(SHOP)
    _Webserver.instance = home
    _Webserver.launched = []
    server = LoopbackServer(_Webserver)
    url = server.url
    key = record_freight(home, "shop", app_freight("v3.0.0"))
    arguments = ["promote", "--path", str(SHOP), "--stage", "dev", "--freight", key]
    try:
        assert main([*arguments, "--url", url, "--wait"]) == 0
        [run] = home.get_runs()
        assert capsys.readouterr().out.splitlines() == [
            f"Launched run {run.run_id} promoting Freight {key} into dev: {url}/runs/{run.run_id}",
            f"Run {run.run_id} promoting Freight {key} into dev succeeded",
        ]
        # Without --wait, the command says it launched and stops there.
        rollback = ["rollback", "--path", str(SHOP), "--stage", "dev", "--to", key]
        assert main([*rollback, "--url", url]) == 0
        assert capsys.readouterr().out.startswith("Launched run ")
    finally:
        server.close()
    # Each run went to the Stage's own job, so the Runs page names it.
    assert [p["selector"]["jobName"] for p in _Webserver.launched] == ["shop__promote__dev"] * 2


# From any directory of the project.


def project_tree(root: Path) -> Path:
    """A project like the repository's: workspace.yaml, definitions.py and stages/."""
    (root / "stages").mkdir(parents=True)
    (root / "stages" / "shop.yaml").write_text((SHOP / "shop.yaml").read_text())
    (root / "definitions.py").write_text(
        "from pathlib import Path\n\nfrom kargo_dagster import load_definitions\n\n"
        "defs = load_definitions(Path(__file__).parent / 'stages')\n"
    )
    (root / "workspace.yaml").write_text("load_from:\n  - python_file: definitions.py\n")
    deep = root / "stages" / "notes" / "deeper"
    deep.mkdir(parents=True)
    return deep


def test_commands_run_from_a_subdirectory(home, tmp_path, monkeypatch, capsys):
    deep = project_tree(tmp_path / "project")
    monkeypatch.chdir(deep)
    key = record_freight(home, "shop", app_freight("v1.0.0"))
    assert main(["promote", "--stage", "dev", "--freight", "v1.0.0", "--local", "--wait"]) == 0
    assert capsys.readouterr().out.endswith(f"promoting Freight {key} into dev succeeded\n")
    assert main(["history", "--stage", "dev"]) == 0
    assert key in capsys.readouterr().out
    # An explicit path still means what it says, from where the command runs.
    assert main(["history", "--path", "stages", "--stage", "dev"]) == 1
    assert "stages" in capsys.readouterr().err


def test_outside_any_project_the_error_says_where_it_looked(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kargo_dagster.cli", "status"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"kargo-dagster: no project found from {tmp_path.resolve()} up to /: none of these "
        "directories holds workspace.yaml, definitions.py or a pyproject.toml with [tool.dg]; "
        "run from inside the project, or give --path (and --definitions)\n"
    )


def test_a_dg_project_takes_its_kargo_component_and_definitions(
    home, tmp_path, monkeypatch, capsys
):
    root = tmp_path / "kd-project"
    package = root / "src" / "kd_cli_project"
    component = package / "defs" / "kargo"
    (component / "manifests").mkdir(parents=True)
    (component / "manifests" / "shop.yaml").write_text((SHOP / "shop.yaml").read_text())
    (component / "defs.yaml").write_text(
        "type: kargo_dagster.KargoProject\nattributes:\n  path: manifests\n"
    )
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    # The package's definitions.py is no project root of its own: the dg project above is.
    (package / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n\n@dg.definitions\n"
        "def defs() -> dg.Definitions:\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n"
    )
    (root / "pyproject.toml").write_text(
        '[project]\nname = "kd-cli-project"\n\n[tool.dg]\ndirectory_type = "project"\n\n'
        '[tool.dg.project]\nroot_module = "kd_cli_project"\n'
    )
    monkeypatch.chdir(component)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the command adds src/ to it
    key = record_freight(home, "shop", app_freight("v1.0.0"))
    assert main(["approve", "--stage", "staging", "--freight", "v1.0.0", "--actor", "a"]) == 0
    assert capsys.readouterr().out == f"Freight {key} approved for Stage staging by a\n"
    assert main(["promote", "--stage", "dev", "--freight", "v1.0.0", "--local", "--wait"]) == 0
    assert capsys.readouterr().out.endswith(f"promoting Freight {key} into dev succeeded\n")


def test_following_a_run_polls_until_it_ends(instance: dg.DagsterInstance):
    run = instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            run_id=make_new_run_id(),
            status=dg.DagsterRunStatus.NOT_STARTED,
            tags={"kargo/project": "shop", "kargo/stage": "dev", "kargo/freight": "f"},
        )
    )
    heard: list[RunOutcome] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        # The daemon's part, while the command waits: the run starts, then fails.
        waits.append(seconds)
        if len(waits) == 1:
            instance.report_run_failed(run)

    end = follow_run(instance, "shop", run.run_id, on_change=heard.append, sleep=sleep)
    assert heard == [RunOutcome.QUEUED, RunOutcome.FAILED]
    assert (end.outcome, end.succeeded, len(waits)) == (RunOutcome.FAILED, False, 1)
    with pytest.raises(InstanceError, match="is not in the Dagster instance"):
        follow_run(instance, "shop", make_new_run_id())

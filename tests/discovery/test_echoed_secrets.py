"""Discovery against servers that echo the credentials they were sent shows none of them.

The errors of a failed discovery are what ``kargo-dagster discover`` prints and what the
Warehouse sensor skips with; a registry or git server quoting the request must not put the
password there in any encoding.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.discovery.subscribers import build_subscribers
from kargo_dagster.discovery.warehouse import discover_warehouse
from kargo_dagster.spec import load_manifests
from tests.clients.echo_server import CREDENTIAL_FORMS, PASSWORD, USERNAME, EchoServer
from tests.manifests import manifests_yaml, project, warehouse

REPO = Path(__file__).parents[2]


@pytest.fixture
def server() -> Iterator[EchoServer]:
    with EchoServer() as echo:
        yield echo


@pytest.fixture
def manifests(tmp_path: Path, server: EchoServer) -> Path:
    path = tmp_path / "manifests"
    path.mkdir()
    git = {"git": {"repoURL": f"{server.url}/team/app.git"}}
    app = warehouse("app", "demo", image=f"{server.host}/team/app", subscriptions=[git])
    (path / "warehouse.yaml").write_text(manifests_yaml(project("demo"), app))
    return path


def assert_no_secret(text: str) -> None:
    leaked = [form for form in CREDENTIAL_FORMS if form in text]
    assert not leaked, f"{leaked} in {text!r}"


def test_the_errors_the_sensor_reports(tmp_path: Path, manifests: Path, server: EchoServer):
    rules = [
        CredentialRule(kind, r"127\.0\.0\.1", Credentials(USERNAME, SecretStr(PASSWORD)), True)
        for kind in ("image", "git")
    ]
    subscribers = build_subscribers(
        credentials=StaticCredentialStore(rules), work_dir=tmp_path / "work"
    )
    warehouse = load_manifests(manifests).projects["demo"].warehouses["app"]

    result = discover_warehouse(warehouse, subscribers)

    assert result.failed and len(result.errors) == 2
    assert len(server.received) >= 2, "both subscriptions sent the credentials"
    for error in result.errors:
        assert "*****" in error
        assert_no_secret(error)


@pytest.mark.parametrize("output", ["text", "json"])
def test_discover_output(tmp_path: Path, manifests: Path, server: EchoServer, output: str):
    env = dict(os.environ)
    for name, kind in (("ECHOIMAGE", "image"), ("ECHOGIT", "git")):
        prefix = f"KARGO_DAGSTER_CREDS_{name}_"
        env |= {
            f"{prefix}TYPE": kind,
            f"{prefix}REPO_URL": r"127\.0\.0\.1",
            f"{prefix}REPO_URL_IS_REGEX": "true",
            f"{prefix}USERNAME": USERNAME,
            f"{prefix}PASSWORD": PASSWORD,
        }
    args = ["discover", str(manifests), "--work-dir", str(tmp_path / "work")]
    if output == "json":
        args.append("--json")

    result = subprocess.run(
        [sys.executable, "-m", "kargo_dagster.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
        timeout=120,
    )

    assert result.returncode == 1, result.stderr
    assert server.received, "the credentials were sent"
    if output == "json":
        json.loads(result.stdout)
    assert "remote error" in result.stdout and "DENIED" in result.stdout
    assert_no_secret(result.stdout + result.stderr)

"""The command line's names: a mistyped Stage or Project gets a suggestion, and the actor is
the person's login name when ``--actor`` is not given, never "unknown"."""

import os
import pwd
from pathlib import Path

import dagster as dg

from kargo_dagster import record_freight
from kargo_dagster.cli import main
from tests.defs.test_pipeline import SHOP, app_freight

STAGES = str(Path(__file__).parents[1] / "stages")


def test_a_mistyped_stage_gets_a_suggestion(capsys):
    assert main(["approve", "--path", STAGES, "--stage", "prd", "--freight", "x"]) == 1
    assert capsys.readouterr().err == (
        "kargo-dagster: Project kargo-demo has no Stage prd; did you mean 'prod'? "
        "(dev, prod, staging)\n"
    )
    for command in ("history", "hold", "promote", "rollback", "verify"):
        arguments = [command, "--path", STAGES, "--stage", "stagign"]
        assert main([*arguments, *(["--freight", "x"] if command == "promote" else [])]) == 1
        assert "did you mean 'staging'?" in capsys.readouterr().err, command


def test_a_mistyped_project_gets_a_suggestion(capsys):
    arguments = ["history", "--path", STAGES, "--project", "kargo-dmeo", "--stage", "dev"]
    assert main(arguments) == 1
    assert capsys.readouterr().err == (
        "kargo-dagster: no Project kargo-dmeo; did you mean 'kargo-demo'? (found: kargo-demo)\n"
    )


def test_the_actor_defaults_to_the_login_name(instance: dg.DagsterInstance, monkeypatch, capsys):
    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", instance.root_directory)
    key = record_freight(instance, "shop", app_freight("v1.0.0"))
    assert main(["approve", "--path", str(SHOP), "--stage", "staging", "--freight", key]) == 0
    login = pwd.getpwuid(os.getuid()).pw_name
    assert capsys.readouterr().out == f"Freight {key} approved for Stage staging by {login}\n"

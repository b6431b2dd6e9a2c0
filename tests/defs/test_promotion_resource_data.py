"""A Stage promoting through Dagster with ``secret()`` and ``configMap()`` in its step configs.

The Secrets and ConfigMaps come from ``KargoResource``'s maps (the token through a
``dg.EnvVar``) or from the Kubernetes API (the fake API server). The promotion writes the
settings to a file, reads it back and calls a loopback server with the token in a header;
the server says the token back. It must reach the server, and appear nowhere a user sees:
the Stage's materialization metadata, the run's event log, anything the instance stored, or
what was logged.
"""

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from kargo_dagster import KargoProject, load_definitions, record_freight
from kargo_dagster.defs.resources import KargoResource, KubernetesCredentials
from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.redaction import MASK
from kargo_dagster.testing.kube_api import FakeKubeAPI, config_map, secret
from kargo_dagster.testing.loopback import LoopbackServer
from tests.defs.promotions import failure_message
from tests.defs.stored_state import everything_stored
from tests.manifests import (
    analysis_template,
    project,
    requested,
    stage,
    step,
    verification,
    warehouse,
    write_manifests,
)
from tests.promotion.token_echo import TokenEcho, echo_server

APP = "registry.example.com/shop/app"
TOKEN = "tok-planted-5d1e9b0c4f7a"
TOKEN_VARIABLE = "KARGO_DAGSTER_TEST_SECRET_TOKEN"


@pytest.fixture
def echo() -> Iterator[LoopbackServer]:
    with echo_server() as server:
        yield server


def kargo_resource(tmp_path: Path, **settings: Any) -> KargoResource:
    """The resource with ``settings``, its work directory under ``tmp_path``."""
    return KargoResource(work_dir=str(tmp_path / "work"), credentials_from_env=False, **settings)


def manifests(tmp_path: Path, url: str) -> Path:
    contents = "env: ${{ configMap('settings').env }}\ntoken: ${{ secret('creds').token }}\n"
    return write_manifests(
        tmp_path / "shop.yaml",
        project("shop"),
        warehouse("app", "shop", image=APP),
        stage(
            "dev",
            "shop",
            requested=[requested("app")],
            steps=[
                step("file-write", path="settings.yaml", contents=contents),
                step(
                    "yaml-parse",
                    path="settings.yaml",
                    outputs=[
                        {"name": "env", "fromExpression": "env"},
                        {"name": "token", "fromExpression": "token"},
                    ],
                ),
                step(
                    "http",
                    url=f"{url}/deploy",
                    method="POST",
                    headers=[
                        {"name": "Authorization", "value": "Bearer ${{ secret('creds').token }}"}
                    ],
                    outputs=[{"name": "echo", "fromExpression": "response.body.youSent"}],
                ),
            ],
        ),
    )


def promote(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    freight = Freight(
        origin=FreightOrigin(name="app"),
        images=(Image(repo_url=APP, tag="v1.0.0", digest="sha256:" + "ab" * 32),),
    )
    key = record_freight(instance, "shop", freight)
    job = defs.resolve_job_def("shop__promote__dev")
    return job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)


def outputs_shown(result: dg.ExecuteInProcessResult) -> Any:
    """The ``outputs`` metadata of the Stage's materialization."""
    (event,) = result.get_asset_materialization_events()
    materialization = event.step_materialization_data.materialization
    return cast(Any, materialization.metadata["outputs"]).value


def assert_token_nowhere(
    instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, logged: str
) -> None:
    where = {
        "run events": serialize_value(list(result.all_events)).encode(),
        "run logs": serialize_value(instance.all_logs(result.run_id)).encode(),
        "instance storage": everything_stored(instance),
        "log records": logged.encode(),
    }
    assert [name for name, data in where.items() if TOKEN.encode() in data] == []


def assert_promoted_with_the_token_masked(
    instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, env: str, logged: str
) -> None:
    """The promotion sent the token and wrote ``env``; what it shows has the token masked."""
    assert result.success, failure_message(result)
    assert [r["authorization"] for r in TokenEcho.received] == [f"Bearer {TOKEN}"]
    shown = outputs_shown(result)
    assert {"env": env, "token": MASK} in shown.values()
    assert {"echo": {"authorization": f"Bearer {MASK}", "body": ""}} in shown.values()
    assert_token_nowhere(instance, result, logged)


def test_secrets_from_the_resource_are_used_and_shown_masked(
    tmp_path, echo, instance, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    kargo = kargo_resource(
        tmp_path,
        config_maps={"shop/settings": {"env": "dev"}},
        secrets={"shop/creds": {"token": dg.EnvVar(TOKEN_VARIABLE)}},
    )
    defs = load_definitions(manifests(tmp_path, echo.url), resources={"kargo": kargo})

    result = promote(defs, instance)

    assert_promoted_with_the_token_masked(instance, result, "dev", caplog.text)


def test_secrets_from_kubernetes_are_used_and_shown_masked(tmp_path, echo, instance, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeKubeAPI() as api:
        api.add(config_map("shop", "settings", {"env": "staging"}))
        api.add(secret("shop", "creds", {"token": TOKEN}))
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        kargo = kargo_resource(
            tmp_path,
            kubernetes_credentials=KubernetesCredentials(kubeconfig=str(kubeconfig)),
        )
        defs = load_definitions(manifests(tmp_path, echo.url), resources={"kargo": kargo})

        result = promote(defs, instance)

    assert_promoted_with_the_token_masked(instance, result, "staging", caplog.text)


def test_a_literal_secret_value_is_refused(tmp_path, echo):
    kargo = KargoResource(secrets={"shop/creds": {"token": TOKEN}})

    with pytest.raises(KargoDagsterError, match=r"KargoResource secrets\['shop/creds'\]\.token: "):
        load_definitions(manifests(tmp_path, echo.url), resources={"kargo": kargo})


def test_a_map_key_without_the_project_is_refused(tmp_path, echo):
    kargo = KargoResource(config_maps={"settings": {"env": "dev"}})

    with pytest.raises(
        KargoDagsterError, match=r"KargoResource config_maps\['settings'\]: key each ConfigMap"
    ):
        load_definitions(manifests(tmp_path, echo.url), resources={"kargo": kargo})


def test_a_failure_quoting_the_token_is_shown_masked(tmp_path, instance, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    path = write_manifests(
        tmp_path / "shop.yaml",
        project("shop"),
        warehouse("app", "shop", image=APP),
        stage(
            "dev",
            "shop",
            requested=[requested("app")],
            steps=[step("fail", message="the token is ${{ secret('creds').token }}")],
        ),
    )
    kargo = kargo_resource(
        tmp_path,
        secrets={"shop/creds": {"token": dg.EnvVar(TOKEN_VARIABLE)}},
    )

    result = promote(load_definitions(path, resources={"kargo": kargo}), instance)

    assert not result.success
    assert f"failed: the token is {MASK}" in failure_message(result)
    # The engine logged the step's failure into the run's log, masked there too.
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any(f"Failed: failed: the token is {MASK}" in message for message in logged)
    assert_token_nowhere(instance, result, caplog.text)


def test_verification_args_read_secrets_and_the_check_shows_them_masked(
    tmp_path, echo, instance, monkeypatch
):
    # The web metric sends the token from its args; the server says it back as the value
    # measured, which fails the success condition and would show in the check's metadata.
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    web = {
        "url": f"{echo.url}/healthz",
        "jsonPath": "{$.youSent.authorization}",
        "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}],
    }
    metric = {"name": "up", "successCondition": 'result == "ok"', "provider": {"web": web}}
    path = write_manifests(
        tmp_path / "shop.yaml",
        project("shop"),
        warehouse("app", "shop", image=APP),
        analysis_template("smoke", "shop", metric, args=["token"]),
        stage(
            "dev",
            "shop",
            requested=[requested("app")],
            steps=[step("compose-output", done="yes")],
            verification=verification("smoke", args={"token": "${{ secret('creds').token }}"}),
        ),
    )
    kargo = kargo_resource(
        tmp_path,
        secrets={"shop/creds": {"token": dg.EnvVar(TOKEN_VARIABLE)}},
    )

    result = promote(load_definitions(path, resources={"kargo": kargo}), instance)

    assert [r["authorization"] for r in TokenEcho.received] == [f"Bearer {TOKEN}"]
    verified = {e.check_name: e for e in result.get_asset_check_evaluations()}["verified"]
    assert not verified.passed
    [measurement] = cast(Any, verified.metadata["verification"]).value["measurements"]
    assert (measurement["phase"], measurement["value"]) == ("Failed", f'"Bearer {MASK}"')
    assert_token_nowhere(instance, result, "")


def test_a_component_takes_secret_values_from_the_environment(tmp_path, echo, monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    path = manifests(tmp_path, echo.url)
    component = KargoProject.resolve_from_yaml(f"""
path: {path}
kargo:
  config_maps:
    shop/settings: {{env: dev}}
  secrets:
    shop/creds:
      apiKey: "{{{{ env.{TOKEN_VARIABLE} }}}}"
  shared_secrets:
    slack:
      url: "{{{{ env('{TOKEN_VARIABLE}') }}}}"
""")

    kargo = component.kargo
    # Every Secret value stays an environment variable, whatever its key.
    for value in (kargo.secrets["shop/creds"]["apiKey"], kargo.shared_secrets["slack"]["url"]):
        assert isinstance(value, dg.EnvVar) and value == TOKEN_VARIABLE
    assert kargo.config_maps == {"shop/settings": {"env": "dev"}}
    dg.build_defs_for_component(component)

"""Promotions whose step configs read ``secret()``, ``configMap()`` and their shared forms.

The steps are the real ``http``, ``file-write``, ``yaml-parse`` and ``fail`` steps; the
Secrets come from the resource's maps or from the Kubernetes API (the fake API server), and
the http step talks to a server on loopback that says back the token it was sent. The token
must reach the server and the file, and be masked in everything the promotion shows: step
messages, outputs, the promotion's message and its log.
"""

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.clients.kube.resource_data import KubernetesResourceData
from kargo_dagster.clients.resource_data import (
    CRED_TYPE_LABEL,
    ResourceData,
    StaticResourceData,
)
from kargo_dagster.promotion.engine import PromotionServices, run_promotion
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.results import PromotionResult
from kargo_dagster.promotion.steps import compose_output, fail, file_write, http_request, yaml_parse
from kargo_dagster.redaction import MASK
from kargo_dagster.testing.kube_api import FakeKubeAPI, config_map, secret
from kargo_dagster.testing.loopback import LoopbackServer
from tests.promotion.engine_support import PROMOTION
from tests.promotion.token_echo import TokenEcho, echo_server

PROJECT = PROMOTION.project
TOKEN = "tok-3f9a1c77e2b54d0c"
SHARED_TOKEN = "shared-tok-8e1b0d22aa"


@pytest.fixture
def echo() -> Iterator[LoopbackServer]:
    with echo_server() as server:
        yield server


def deploy_steps(url: str) -> list[PlannedStep]:
    """Write the settings from configMap() and the token from secret() to a file, read the
    file back as outputs, and call ``url`` with the token in a header."""
    contents = (
        "env: ${{ configMap('settings').env }}\n"
        "replicas: ${{ configMap('settings').replicas }}\n"
        "token: ${{ secret('creds').token }}\n"
    )
    return [
        PlannedStep(
            alias="write",
            uses="file-write",
            config={"path": "settings.yaml", "contents": contents},
        ),
        PlannedStep(
            alias="read",
            uses="yaml-parse",
            config={
                "path": "settings.yaml",
                "outputs": [
                    {"name": "env", "fromExpression": "env"},
                    {"name": "token", "fromExpression": "token"},
                ],
            },
        ),
        PlannedStep(
            alias="notify",
            uses="http",
            config={
                "url": f"{url}/deploy",
                "method": "POST",
                "headers": [
                    {"name": "Authorization", "value": "Bearer ${{ secret('creds').token }}"}
                ],
                "body": "${{ configMap('settings').env }}",
                "outputs": [{"name": "echo", "fromExpression": "response.body.youSent"}],
            },
        ),
    ]


def promote(
    tmp_path: Path, steps: list[PlannedStep], source: ResourceData | None, log: logging.Logger
) -> PromotionResult:
    return run_promotion(
        steps=steps,
        registry=StepRegistry(
            [s.STEP for s in (compose_output, fail, file_write, http_request, yaml_parse)]
        ),
        promotion=PROMOTION,
        services=PromotionServices(resource_data=source, log=log),
        work_root=tmp_path / "work",
    )


def shown(result: PromotionResult) -> str:
    """Everything the promotion's result shows, as text."""
    details = [step.details for step in result.steps]
    return json.dumps([result.to_json(), details], default=str)


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    caplog.set_level(logging.DEBUG)
    return logging.getLogger("kargo_dagster.test_resource_data")


def test_static_maps_reach_the_steps_and_the_token_is_masked(tmp_path, echo, log, caplog):
    source = StaticResourceData(
        config_maps={f"{PROJECT}/settings": {"env": "dev", "replicas": "3"}},
        secrets={f"{PROJECT}/creds": {"token": TOKEN}},
    )

    result = promote(tmp_path, deploy_steps(echo.url), source, log)

    assert result.phase == "Succeeded", result.message
    # The real values went where the config sent them.
    assert TokenEcho.received == [{"authorization": f"Bearer {TOKEN}", "body": "dev"}]
    assert result.outputs["read"] == {"env": "dev", "token": MASK}
    assert result.outputs["notify"]["echo"] == {"authorization": f"Bearer {MASK}", "body": "dev"}
    assert TOKEN not in shown(result)
    assert TOKEN not in caplog.text


def test_kubernetes_objects_are_read_once_per_promotion(tmp_path, echo, log, caplog):
    with FakeKubeAPI() as api:
        api.add(config_map(PROJECT, "settings", {"env": "staging", "replicas": "2"}))
        api.add(secret(PROJECT, "creds", {"token": TOKEN}))
        source = KubernetesResourceData(api.api_client())

        result = promote(tmp_path, deploy_steps(echo.url), source, log)

        reads = [r.path for r in api.requests if r.method == "GET"]

    assert result.phase == "Succeeded", result.message
    assert TokenEcho.received == [{"authorization": f"Bearer {TOKEN}", "body": "staging"}]
    # Three steps call configMap('settings') and secret('creds'): each is read once.
    assert sorted(reads) == [
        f"/api/v1/namespaces/{PROJECT}/configmaps/settings",
        f"/api/v1/namespaces/{PROJECT}/secrets/creds",
    ]
    assert result.outputs["read"] == {"env": "staging", "token": MASK}
    assert TOKEN not in shown(result)
    assert TOKEN not in caplog.text


def test_shared_objects_come_from_the_shared_namespace_and_only_generic_secrets(tmp_path, log):
    steps = [
        PlannedStep(
            alias="shared",
            uses="compose-output",
            config={
                "region": "${{ sharedConfigMap('defaults').region }}",
                "token": "${{ sharedSecret('generic').token }}",
                "hidden": "${{ sharedSecret('git-creds') }}",
                "missing": "${{ secret('nope') }}",
                "missingKey": "${{ secret('nope').token ?? 'absent' }}",
            },
        )
    ]
    with FakeKubeAPI() as api:
        api.add(config_map("kargo-shared-resources", "defaults", {"region": "eu-west-1"}))
        api.add(
            secret(
                "kargo-shared-resources",
                "generic",
                {"token": SHARED_TOKEN},
                {CRED_TYPE_LABEL: "generic"},
            )
        )
        api.add(
            secret(
                "kargo-shared-resources",
                "git-creds",
                {"password": "git-password-0000"},
                {CRED_TYPE_LABEL: "git"},
            )
        )
        result = promote(tmp_path, steps, KubernetesResourceData(api.api_client()), log)

    assert result.phase == "Succeeded", result.message
    # A shared Secret that is not a generic credential reads as absent, as does a missing one.
    assert result.outputs["shared"] == {
        "region": "eu-west-1",
        "token": MASK,
        "hidden": {},
        "missing": {},
        "missingKey": "absent",
    }


def test_a_failure_message_holding_the_token_is_masked(tmp_path, log, caplog):
    steps = [
        PlannedStep(
            alias="stop",
            uses="fail",
            config={"message": "token was ${{ secret('creds').token }}"},
        )
    ]
    source = StaticResourceData(secrets={f"{PROJECT}/creds": {"token": TOKEN}})

    result = promote(tmp_path, steps, source, log)

    assert result.phase == "Failed"
    assert result.step("stop").message == f"failed: token was {MASK}"
    assert result.message == f"step 'stop' (fail): failed: token was {MASK}"
    assert TOKEN not in shown(result)
    assert "token was" in caplog.text and TOKEN not in caplog.text


def test_without_a_source_every_object_is_an_empty_map(tmp_path, log):
    steps = [
        PlannedStep(
            alias="read",
            uses="compose-output",
            config={"cm": "${{ configMap('settings') }}", "s": "${{ sharedSecret('x') }}"},
        )
    ]

    result = promote(tmp_path, steps, None, log)

    assert result.outputs["read"] == {"cm": {}, "s": {}}


def test_a_refused_read_errors_the_step_naming_the_object(tmp_path, log, caplog):
    steps = [
        PlannedStep(
            alias="read",
            uses="compose-output",
            config={"token": "${{ secret('creds').token }}"},
        )
    ]
    with FakeKubeAPI() as api:
        api.add(secret(PROJECT, "creds", {"token": TOKEN}))
        api.fail_next("get", "secrets", "creds", code=403)
        result = promote(tmp_path, steps, KubernetesResourceData(api.api_client()), log)

    execution = result.step("read")
    assert execution.status == "Errored"
    expected: Any = (
        f"step 'read' config.token: secret: cannot read Secret {PROJECT}/creds "
        "(Kubernetes API answered 403 Forbidden)"
    )
    assert execution.message.startswith(expected), execution.message
    assert TOKEN not in shown(result)

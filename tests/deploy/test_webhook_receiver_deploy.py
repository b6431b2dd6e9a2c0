"""The webhook receiver's Deployment and Service in deploy/helm/values.yaml, rendered by the
real helm with Dagster's chart: the code location's image, the instance the daemon uses, the
secrets from Secrets, and a command line kargo-dagster accepts."""

import subprocess
import sys

from tests.deploy.test_helm_values import (
    CREDENTIALS_SECRET,
    IMAGE,
    POSTGRES_SECRET,
    RELEASE,
    REPO,
    Manifest,
    container,
    env_value,
    find,
    manifests,  # noqa: F401 - the rendered manifests, a fixture
)

NAME = "kargo-dagster-webhooks"
DAGSTER_HOME = "/opt/dagster/dagster_home"


def test_the_receiver_runs_the_code_locations_image_on_the_daemons_instance(
    manifests: list[Manifest],  # noqa: F811
):
    deployment = find(manifests, "Deployment", NAME)
    main = container(deployment)
    assert main["image"] == IMAGE
    assert main["command"][:2] == ["kargo-dagster", "receive"]
    assert env_value(main, "DAGSTER_HOME")["value"] == DAGSTER_HOME
    (mount,) = [m for m in main["volumeMounts"] if m.get("subPath") == "dagster.yaml"]
    assert mount["mountPath"] == f"{DAGSTER_HOME}/dagster.yaml"
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == mount["name"]]
    # The instance ConfigMap the chart renders (it exists: find() insists on one).
    find(manifests, "ConfigMap", volume["configMap"]["name"])
    assert volume["configMap"]["name"] == f"{RELEASE}-instance"


def test_its_secrets_come_from_secrets(manifests: list[Manifest]):  # noqa: F811
    main = container(find(manifests, "Deployment", NAME))
    password = env_value(main, "DAGSTER_PG_PASSWORD")["valueFrom"]["secretKeyRef"]
    assert password == {"name": POSTGRES_SECRET, "key": "postgresql-password"}
    assert {"secretRef": {"name": CREDENTIALS_SECRET}} in main["envFrom"]
    assert {"secretRef": {"name": NAME}} in main["envFrom"]
    assert all("value" not in e or "SECRET" not in e["name"] for e in main.get("env") or [])


def test_the_service_reaches_the_receivers_port_and_health_check(
    manifests: list[Manifest],  # noqa: F811
):
    deployment = find(manifests, "Deployment", NAME)
    service = find(manifests, "Service", NAME)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    main = container(deployment)
    (port,) = main["ports"]
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    assert main["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert f"--port={port['containerPort']}" in main["command"]


def test_kargo_dagster_accepts_the_command_line(manifests: list[Manifest]):  # noqa: F811
    command = container(find(manifests, "Deployment", NAME))["command"]
    # The image's /app is the repository's root: its definitions.py and stages/.
    args = [arg.replace("=/app/", f"={REPO}/") for arg in command[1:]]
    result = subprocess.run(
        [sys.executable, "-m", "kargo_dagster.cli", *args, "--print-urls"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr

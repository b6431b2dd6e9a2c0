"""`kargo-dagster receive`: receiver URLs as Kargo derives them, and a real server that
answers senders and logs refusals without their secrets."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import httpx

from kargo_dagster.cli import main
from kargo_dagster.testing import webhook_senders as send
from kargo_dagster.testing.kube_api import FakeKubeAPI, secret
from kargo_dagster.testing.polling import wait_until
from kargo_dagster.testing.registry import free_port
from tests.server_probe import answers
from tests.webhooks.manifests import cluster_receivers, receiver, with_receivers

REPO = Path(__file__).parents[1]
SECRET = "s3cret-for-the-cli-test"
MANIFESTS = with_receivers(receiver("github", "gh", "gh-secret"))
DIGEST = hashlib.sha256(f"demogh{SECRET}".encode()).hexdigest()
# Hang alarm only: the server starts in a few seconds.
START_ALARM_SECONDS = 120


def stages(tmp_path: Path) -> Path:
    (tmp_path / "demo.yaml").write_text(MANIFESTS)
    return tmp_path / "demo.yaml"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARGO_DAGSTER_WEBHOOK_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**env, "DAGSTER_HOME": str(home), **extra}


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kargo_dagster.cli", "receive", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment(tmp_path, **env),
        timeout=120,
        check=False,
    )


def test_print_urls_derives_each_url_from_project_name_and_secret(tmp_path):
    path = str(stages(tmp_path))
    given = {"KARGO_DAGSTER_WEBHOOK_SECRET_GH_SECRET": SECRET}
    plain = run(tmp_path, "--path", path, "--print-urls", **given)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == f"demo/gh (github): http://127.0.0.1:8080/github/{DIGEST}\n"
    public = run(
        tmp_path, "--path", path, "--print-urls", "--base-url", "https://ci.example.com/kargo/",
        **given,
    )  # fmt: skip
    assert public.stdout == f"demo/gh (github): https://ci.example.com/kargo/github/{DIGEST}\n"


def test_print_urls_lists_the_cluster_config_receivers_after_the_projects(tmp_path):
    text = MANIFESTS + cluster_receivers(receiver("github", "all", "org-hook"))
    (tmp_path / "demo.yaml").write_text(text)
    given = {"KARGO_DAGSTER_WEBHOOK_SECRET_GH_SECRET": SECRET}
    result = run(tmp_path, "--path", str(tmp_path), "--print-urls", **given)
    # Without its secret the cluster receiver is named with where to put it.
    assert result.returncode == 1
    assert (
        "ClusterConfig/cluster: spec.webhookReceivers.0.github.secretRef.name: receiver all is "
        "not served: no secret for Secret org-hook (set KARGO_DAGSTER_WEBHOOK_SECRET_ORG_HOOK)"
    ) in result.stderr
    given["KARGO_DAGSTER_WEBHOOK_SECRET_ORG_HOOK"] = "org-secret"
    result = run(tmp_path, "--path", str(tmp_path), "--print-urls", **given)
    assert result.returncode == 0, result.stderr
    # Kargo hashes a cluster receiver's name and secret with an empty Project name.
    cluster_digest = hashlib.sha256(b"allorg-secret").hexdigest()
    assert result.stdout == (
        f"demo/gh (github): http://127.0.0.1:8080/github/{DIGEST}\n"
        f"ClusterConfig/all (github): http://127.0.0.1:8080/github/{cluster_digest}\n"
    )


DEFINITIONS = """\
import dagster as dg

from kargo_dagster.defs.resources import KargoResource, KubernetesCredentials

credentials = KubernetesCredentials(
    kubeconfig={kubeconfig!r}, system_resources_namespace="platform"
)
defs = dg.Definitions(resources={{"kargo": KargoResource(kubernetes_credentials=credentials)}})
"""


def test_with_a_cluster_the_cluster_receivers_secret_is_read_in_the_configured_namespace(
    tmp_path, capsys
):
    text = MANIFESTS + cluster_receivers(receiver("github", "all", "org-hook"))
    (tmp_path / "demo.yaml").write_text(text)
    with FakeKubeAPI() as api:
        api.add(secret("demo", "gh-secret", {"secret": SECRET}))
        api.add(secret("platform", "org-hook", {"secret": "org-secret"}))
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        definitions = tmp_path / "definitions.py"
        definitions.write_text(DEFINITIONS.format(kubeconfig=str(kubeconfig)))
        arguments = ["--path", str(tmp_path / "demo.yaml"), "--definitions", str(definitions)]
        assert main(["receive", *arguments, "--print-urls"]) == 0
    cluster_digest = hashlib.sha256(b"allorg-secret").hexdigest()
    assert capsys.readouterr().out.splitlines() == [
        f"demo/gh (github): http://127.0.0.1:8080/github/{DIGEST}",
        f"ClusterConfig/all (github): http://127.0.0.1:8080/github/{cluster_digest}",
    ]


def test_a_receiver_without_its_secret_is_named_with_where_to_put_it(tmp_path):
    result = run(tmp_path, "--path", str(stages(tmp_path)), "--print-urls")
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "demo.yaml:16: warning: ProjectConfig/demo: spec.webhookReceivers.0.github.secretRef.name: "
        "receiver gh is not served: no secret for Secret gh-secret "
        "(set KARGO_DAGSTER_WEBHOOK_SECRET_GH_SECRET)"
    ) in result.stderr


def test_the_server_answers_senders_and_logs_refusals_without_secrets(tmp_path):
    port = free_port()
    env = environment(tmp_path, KARGO_DAGSTER_WEBHOOK_SECRET_GH_SECRET=SECRET)
    args = ["receive", "--path", str(stages(tmp_path)), "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "kargo_dagster.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: answers(f"{base}/healthz"),
            what="the receiver to start",
            timeout=START_ALARM_SECONDS,
            interval=0.2,
            process=server,
        )
        url = f"{base}/github/{DIGEST}"
        ping = send.github_ping(SECRET)
        answer = httpx.post(url, content=ping.body, headers=ping.headers, timeout=30)
        assert answer.json() == {"msg": "ping event received, webhook is configured correctly"}
        forged = send.github_ping("not-the-secret")
        refused = httpx.post(url, content=forged.body, headers=forged.headers, timeout=30)
        assert refused.status_code == 401 and refused.json() == {"error": "unauthorized"}
    finally:
        server.terminate()
        out, err = server.communicate(timeout=60)
    assert "Serving 1 webhook receiver(s)" in out
    assert "webhook receiver demo/gh (github) refused a request: 401 unauthorized" in err
    assert SECRET not in out + err and DIGEST not in out + err

"""The pod simulator, seen through the real ``kubernetes`` client: pods run, log and finish."""

import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.pod_sim import PodRun, PodSimulator
from kargo_dagster.testing.polling import wait_until

NAMESPACE = "kargo-demo"
NANOSECOND_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def pod(
    name: str,
    command: list[str] | None,
    *,
    image: str = "python:3.11",
    env: list[dict[str, Any]] | None = None,
    sidecars: tuple[str, ...] = (),
) -> dict[str, Any]:
    main: dict[str, Any] = {"name": "main", "image": image, "env": env or []}
    if command is not None:
        main["command"] = command
    containers = [main, *({"name": s, "image": "busybox"} for s in sidecars)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": containers},
    }


def python(script: str) -> list[str]:
    return [sys.executable, "-c", script]


def first_line(kube: FakeKubeAPI, name: str) -> str:
    """The first line pod ``name`` logs, once it has."""
    lines = wait_until(
        lambda: kube.pod_log_lines(NAMESPACE, name), what=f"pod {name} to log", interval=0.02
    )
    return lines[0]


def main_state(core: Any, name: str) -> Any:
    """The pod's main container state; an empty one until the simulator has reported any."""
    statuses = core.read_namespaced_pod(name, NAMESPACE).status.container_statuses
    return statuses[0].state if statuses else kubernetes.client.V1ContainerState()


def await_state(core: Any, name: str, state: str) -> Any:
    """Pod ``name``'s main container state ``state`` (``running``, ``terminated``), once set."""
    return wait_until(
        lambda: getattr(main_state(core, name), state),
        what=f"pod {name}'s main container to be {state}",
        interval=0.02,
    )


@pytest.fixture
def pods(kube: FakeKubeAPI) -> Any:
    with PodSimulator(kube) as simulator:
        yield simulator


def test_a_pod_goes_pending_then_running_then_succeeded(kube, core, pods):
    pods.script("acme/check:1", exit_code=0, output_lines=("all good",))
    core.create_namespaced_pod(NAMESPACE, pod("check", ["check"], image="acme/check:1"))

    pods.step()
    created = core.read_namespaced_pod("check", NAMESPACE)
    assert created.status.phase == "Pending"
    assert created.status.container_statuses[0].state.waiting.reason == "ContainerCreating"

    pods.step()
    running = core.read_namespaced_pod("check", NAMESPACE)
    assert running.status.phase == "Running"
    status = running.status.container_statuses[0]
    assert status.ready is True
    assert status.state.running.started_at is not None

    pods.step()
    done = core.read_namespaced_pod("check", NAMESPACE)
    assert done.status.phase == "Succeeded"
    terminated = done.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert terminated.finished_at is not None
    assert pods.settle() == 0
    assert pods.runs == [PodRun(NAMESPACE, "check", ["check"], 0)]


def test_the_log_is_followed_while_the_process_runs(kube, core, pods, tmp_path):
    # The process prints its second line only once the test has read the first, so the
    # first must arrive while the process runs; it gives up after a minute, exiting 2.
    go_on = tmp_path / "go-on"
    script = (
        "import pathlib, sys, time\n"
        "print('first', flush=True)\n"
        "for _ in range(600):\n"
        "    if pathlib.Path(sys.argv[1]).exists():\n"
        "        break\n"
        "    time.sleep(0.1)\n"
        "else:\n"
        "    sys.exit(2)\n"
        "print('second', file=sys.stderr)\n"
    )
    command = [*python(script), str(go_on)]
    with pods.running():
        core.create_namespaced_pod(NAMESPACE, pod("follow", command))
        await_state(core, "follow", "running")
        stream = core.read_namespaced_pod_log(
            "follow", NAMESPACE, follow=True, timestamps=True, _preload_content=False
        )
        chunks: list[bytes] = []
        for chunk in stream.stream(amt=None):
            chunks.append(chunk)
            go_on.touch()
        stream.release_conn()

        lines = b"".join(chunks).decode().splitlines()
        assert [line.split(" ", 1)[1] for line in lines] == ["first", "second"]
        assert all(NANOSECOND_TIME.match(line.split(" ", 1)[0]) for line in lines)

        wait_until(
            lambda: core.read_namespaced_pod("follow", NAMESPACE).status.phase != "Running",
            what="the pod to end",
            interval=0.02,
        )
    done = core.read_namespaced_pod("follow", NAMESPACE)
    assert done.status.phase == "Succeeded"
    assert pods.runs == [PodRun(NAMESPACE, "follow", command, 0)]


def test_a_failing_process_fails_the_pod_with_its_exit_code(kube, core, pods):
    script = "import sys\nprint('checking')\nprint('database unreachable')\nsys.exit(3)\n"
    with pods.running():
        core.create_namespaced_pod(NAMESPACE, pod("broken", python(script)))
        await_state(core, "broken", "terminated")
    done = core.read_namespaced_pod("broken", NAMESPACE)
    terminated = done.status.container_statuses[0].state.terminated
    assert (done.status.phase, terminated.exit_code, terminated.reason) == ("Failed", 3, "Error")
    tail = core.read_namespaced_pod_log(
        "broken", NAMESPACE, container="main", tail_lines=1, _preload_content=False
    )
    assert tail.data == b"database unreachable\n"


def test_log_requests_for_other_containers(kube, core, pods):
    pods.script("acme/check:1", output_lines=("main output",))
    core.create_namespaced_pod(
        NAMESPACE, pod("pair", ["check"], image="acme/check:1", sidecars=("proxy",))
    )
    pods.settle()
    sidecar = core.read_namespaced_pod_log(
        "pair", NAMESPACE, container="proxy", _preload_content=False
    )
    assert sidecar.data == b""
    with pytest.raises(kubernetes.client.ApiException) as raised:
        core.read_namespaced_pod_log("pair", NAMESPACE, container="nope")
    assert raised.value.status == 400
    assert "container nope is not valid for pod pair" in str(raised.value.body)


def test_sidecars_terminate_alongside_the_first_container(kube, core, pods):
    pods.script("acme/check:1", exit_code=1)
    core.create_namespaced_pod(
        NAMESPACE, pod("pair", ["check"], image="acme/check:1", sidecars=("proxy",))
    )
    pods.step()
    pods.step()
    running = core.read_namespaced_pod("pair", NAMESPACE).status.container_statuses
    assert [(s.name, s.ready, bool(s.state.running)) for s in running] == [
        ("main", True, True),
        ("proxy", True, True),
    ]
    pods.settle()
    done = core.read_namespaced_pod("pair", NAMESPACE).status
    exits = [(s.name, s.state.terminated.exit_code) for s in done.container_statuses]
    assert (done.phase, exits) == ("Failed", [("main", 1), ("proxy", 0)])


def test_the_process_gets_literal_env_and_a_temporary_directory(kube, core, pods, monkeypatch):
    monkeypatch.setenv("KARGO_DAGSTER_NOT_FOR_PODS", "leak")
    script = (
        "import os\n"
        "print(os.environ['GREETING'])\n"
        "print(os.environ.get('KARGO_DAGSTER_NOT_FOR_PODS', 'absent'))\n"
        "print(bool(os.environ.get('PATH')))\n"
        "print(os.getcwd())\n"
    )
    env = [{"name": "GREETING", "value": "hello"}]
    with pods.running():
        core.create_namespaced_pod(NAMESPACE, pod("env", python(script), env=env))
        await_state(core, "env", "terminated")
    greeting, leaked, path, cwd = kube.pod_log_lines(NAMESPACE, "env")
    assert (greeting, leaked, path) == ("hello", "absent", "True")
    assert cwd != os.getcwd()
    assert not Path(cwd).exists()


def test_value_from_keeps_the_container_from_starting(kube, core, pods):
    env = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
    ]
    core.create_namespaced_pod(NAMESPACE, pod("secretive", python("print(1)"), env=env))
    pods.settle()
    created = core.read_namespaced_pod("secretive", NAMESPACE)
    waiting = created.status.container_statuses[0].state.waiting
    assert created.status.phase == "Pending"
    assert waiting.reason == "CreateContainerConfigError"
    assert '"TOKEN"' in waiting.message
    assert pods.runs == []


def test_an_image_that_cannot_be_pulled(kube, core, pods):
    pods.fail_image_pull("ghcr.io/acme/missing:1", message="manifest unknown")
    core.create_namespaced_pod(
        NAMESPACE, pod("pull", python("print(1)"), image="ghcr.io/acme/missing:1")
    )
    pods.settle()
    waiting = main_state(core, "pull").waiting
    assert (waiting.reason, waiting.message) == ("ErrImagePull", "manifest unknown")
    assert pods.runs == []


def test_a_container_without_a_command_cannot_run(kube, core, pods):
    core.create_namespaced_pod(NAMESPACE, pod("entrypoint", None))
    pods.settle()
    waiting = main_state(core, "entrypoint").waiting
    assert waiting.reason == "RunContainerError"
    assert "command" in waiting.message


def test_deleting_a_pod_kills_its_process(kube, core, pods):
    script = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n"
    with pods.running():
        core.create_namespaced_pod(NAMESPACE, pod("sleeper", python(script)))
        pid = int(first_line(kube, "sleeper"))
        stream = core.read_namespaced_pod_log(
            "sleeper", NAMESPACE, follow=True, _preload_content=False
        )
        followed: list[bytes] = []
        follower = threading.Thread(target=lambda: followed.extend(stream.stream(amt=None)))
        follower.start()
        core.delete_namespaced_pod("sleeper", NAMESPACE)
        wait_until(lambda: pods.runs, what="the process to end", interval=0.02)
        follower.join(timeout=10)
    assert not follower.is_alive(), "deleting the pod ends the followed log"
    assert b"".join(followed) == f"{pid}\n".encode()
    assert pods.runs[0].exit_code == 137
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_stopping_the_simulator_kills_running_processes(kube, core, pods):
    script = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n"
    with pods.running():
        core.create_namespaced_pod(NAMESPACE, pod("sleeper", python(script)))
        pid = int(first_line(kube, "sleeper"))
    assert pods.runs == [PodRun(NAMESPACE, "sleeper", python(script), 137)]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_kubeconfig_reaches_the_server(kube, core, tmp_path):
    core.create_namespaced_pod("team-a", pod("there", ["true"]))
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="team-a")
    client = kubernetes.config.new_client_from_config(config_file=str(path))
    try:
        listed: Any = kubernetes.client.CoreV1Api(client).list_namespaced_pod("team-a")
    finally:
        client.close()
    assert [p.metadata.name for p in listed.items] == ["there"]
    assert "namespace: team-a" in path.read_text()


def test_a_fixed_log_is_answered_whole_even_when_followed(kube, core):
    core.create_namespaced_pod(NAMESPACE, pod("fixed", ["true"]))
    kube.set_pod_log(NAMESPACE, "fixed", "one\ntwo\nthree\n")
    tail = core.read_namespaced_pod_log("fixed", NAMESPACE, tail_lines=2, _preload_content=False)
    followed = core.read_namespaced_pod_log("fixed", NAMESPACE, follow=True, _preload_content=False)
    assert (tail.data, followed.data) == (b"two\nthree\n", b"one\ntwo\nthree\n")

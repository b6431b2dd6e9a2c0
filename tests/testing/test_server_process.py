"""Starting server processes on a free port: waiting for them, retrying, and failing loudly."""

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from kargo_dagster.testing.server_process import (
    RegistryServerError,
    free_port,
    start_server_process,
    stop_process,
)


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def test_free_ports_can_be_bound():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_starts_a_server_and_returns_it_once_it_answers(tmp_path: Path):
    def launch(port: int) -> "subprocess.Popen[bytes]":
        return subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    process, port = start_server_process(
        launch, _answers, what="http.server", log=tmp_path / "none.log"
    )
    try:
        assert process.poll() is None
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        stop_process(process)
    assert process.returncode is not None


def test_a_server_that_exits_is_tried_three_times_then_its_log_is_shown(tmp_path: Path):
    log = tmp_path / "server.log"
    ports: list[int] = []

    def launch(port: int) -> "subprocess.Popen[bytes]":
        ports.append(port)
        script = f"print('cannot listen on {port}', flush=True); raise SystemExit(3)"
        with log.open("ab") as out:
            return subprocess.Popen([sys.executable, "-c", script], stdout=out)

    with pytest.raises(RegistryServerError) as caught:
        start_server_process(launch, _answers, what="the broken server", log=log)
    assert len(ports) == 3
    assert str(caught.value).startswith("the broken server did not start; its log ends:\n")
    assert f"cannot listen on {ports[-1]}" in str(caught.value)


def test_a_fixed_port_is_tried_once(tmp_path: Path):
    ports: list[int] = []

    def launch(port: int) -> "subprocess.Popen[bytes]":
        ports.append(port)
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])

    with pytest.raises(RegistryServerError) as caught:
        start_server_process(launch, _answers, what="x", log=tmp_path / "missing.log", port=5)
    assert str(caught.value) == "x did not start; its log ends:\n"
    assert ports == [5]


def test_stop_process_ignores_none():
    stop_process(None)

"""Waiting for a condition: its answer, its timeout, and a process that dies meanwhile."""

import os
import signal
import subprocess
import sys
from itertools import count

import pytest

from kargo_dagster.testing.polling import WaitTimeout, wait_until
from tests.hang_alarm import hang_alarm


def test_the_first_truthy_answer_is_returned():
    asked = count(1)
    answer = wait_until(
        lambda: [n] if (n := next(asked)) >= 3 else [], what="a third question", interval=0.001
    )
    assert answer == [3]


def test_a_condition_that_never_holds_times_out_naming_what_was_awaited():
    with pytest.raises(WaitTimeout, match=r"^gave up waiting for the answer after 0\.2 s$"):
        wait_until(lambda: None, what="the answer", timeout=0.2, interval=0.01)


def test_a_described_wait_says_where_things_stood_when_it_gave_up():
    seen: list[int] = []

    def grows() -> bool:
        seen.append(len(seen))
        return False

    with pytest.raises(WaitTimeout) as caught:
        wait_until(grows, what=lambda: f"ten items (had {len(seen)})", timeout=0.2, interval=0.01)
    # Asked after the last question: it counts them all.
    assert len(seen) > 1
    assert str(caught.value) == f"gave up waiting for ten items (had {len(seen)}) after 0.2 s"


def test_an_error_of_the_condition_ends_the_wait():
    def broken() -> None:
        raise LookupError("no such run")

    with pytest.raises(LookupError, match="no such run"):
        wait_until(broken, what="the run")


def test_a_process_that_exits_ends_the_wait_with_what_it_printed():
    script = "import sys\nprint('starting')\nsys.stderr.write('port in use\\n')\nsys.exit(3)\n"
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    with process, pytest.raises(WaitTimeout) as caught:
        # Far longer than the process lives: only its exit can end this wait in time.
        with hang_alarm(60, "the wait on an exited process"):
            wait_until(lambda: None, what="the server", timeout=300, process=process)
    message = str(caught.value)
    assert message.startswith("gave up waiting for the server: the process exited with 3")
    assert "starting" in message and "port in use" in message


def test_the_output_of_an_exited_process_is_quoted_though_its_child_holds_the_pipe(tmp_path):
    # The process leaves a child behind that keeps its output pipe open for a minute.
    child_pid = tmp_path / "child.pid"
    script = (
        "import pathlib, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "pathlib.Path(sys.argv[1]).write_text(str(child.pid))\n"
        "print('code location failed to load', flush=True)\n"
        "sys.exit(1)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(child_pid)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    with process:
        try:
            with hang_alarm(30, "quoting the output"), pytest.raises(WaitTimeout) as caught:
                wait_until(lambda: None, what="the webserver", timeout=300, process=process)
        finally:
            process.wait(timeout=30)
            if child_pid.exists():
                os.kill(int(child_pid.read_text()), signal.SIGKILL)
    assert str(caught.value) == (
        "gave up waiting for the webserver: the process exited with 1; its output ended:\n"
        "code location failed to load\n"
    )

"""Watching a running network: ``status`` from another shell, and the live view of ``simulate``.

Real ``simulate`` runs (local backend) in the background; ``status`` runs as a user would type it.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

JOBS = """
import time
from fission.core.jobs import PythonJob


class Count(PythonJob):
    def __init__(self, count=0, **kwargs):
        super().__init__(**kwargs)
        self.count = count

    def run(self):
        n = 0
        while not self.count or n < self.count:
            n += 1
            yield n
            time.sleep(0.005)


class Double(PythonJob):
    def run(self, value):
        if value % 100 == 0:
            print("passing", value)
        return value * 2


class Sink(PythonJob):
    def run(self, value):
        pass
"""

CONFIG = """
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Count, Double, Sink

JOBS = [
    Count({count}, outputs=[PicklePipe(1)]),
    Double(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    Sink(inputs=[PicklePipe(2)]),
]
JOB_RESTARTS = 2
DEBUG_WINDOW = True
"""


def network(project, count: int = 0):
    """The network ``net``: a source of ``count`` blocks (0: endless), a middle job, a sink."""
    folder = project.root / "net"
    if folder.exists():
        (folder / "config.py").write_text(CONFIG.format(count=count))
        return folder
    return project.network("net", jobs=JOBS, config=CONFIG.format(count=count))


def status(project, *args: str):
    return project.manage("net", "status", *args, timeout=30)


def directory(project) -> dict:
    result = status(project, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_directory(project, check, timeout: float = 20) -> dict:
    """Read ``status --json`` until ``check(document)`` holds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        result = status(project, "--json")
        if result.returncode == 0:
            last = json.loads(result.stdout)
            if check(last):
                return last
        else:
            last = result.stderr
        time.sleep(0.2)
    raise AssertionError(f"directory never matched; last: {last}")


def all_running(document: dict) -> bool:
    return all(job["state"] == "RUNNING" for job in document["jobs"])


def stop(process) -> None:
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=20) == 0, "\n".join(process.errors)


def test_status_json_shows_every_job_running_with_endpoints_and_rising_rounds(project, reap):
    network(project)
    process = project.start("net", "simulate", "--quiet")
    reap.append(process)
    socket_file = project.root / "net" / "simulation" / "status.sock"
    deadline = time.monotonic() + 20
    while not socket_file.exists():
        assert time.monotonic() < deadline and process.poll() is None, process.errors
        time.sleep(0.05)
    time.sleep(2.5)  # nobody asks meanwhile: the first answer must still be complete
    first = directory(project)
    assert all_running(first) and first["jobs"][-1]["rounds"] > 0, first
    assert first["schema"] == 1 and first["network"] == "net" and first["state"] == "RUNNING"
    assert [job["name"] for job in first["jobs"]] == ["Count 1", "Double 2", "Sink 3"]
    for job in first["jobs"]:
        assert job["endpoint"].startswith("unix:@"), job
        assert job["server"] == "local" and job["live"] and job["pid"] > 0, job
        assert job["restarts"] == 0 and job["epoch"] == 1
    assert [(p["id"], p["producer"], p["consumer"]) for p in first["pipes"]] == [
        (1, "Count 1", "Double 2"),
        (2, "Double 2", "Sink 3"),
    ]
    assert first["servers"][0]["name"] == "local" and first["servers"][0]["jobs"] == 3
    time.sleep(1.5)
    second = directory(project)
    for before, after in zip(first["jobs"], second["jobs"], strict=True):
        assert after["rounds"] > before["rounds"], (before, after)
    assert second["updated"] > first["updated"]
    # the source sleeps 5 ms per block: about 100-200 blocks/s through both pipes
    for pipe in first["pipes"] + second["pipes"]:
        assert 20 < pipe["blocks_per_s"] < 1000, pipe
        assert pipe["gaps"] == 0 and pipe["connected"], pipe
        assert 0 <= pipe["credit_used"] <= pipe["credit_window"] == 4096, pipe
    # only this user may connect
    assert (socket_file.stat().st_mode & 0o777) == 0o600
    # the table (rich) names every job and its state
    table = status(project)
    assert table.returncode == 0, table.stderr
    for name in ("Count 1", "Double 2", "Sink 3", "RUNNING", "blocks/s"):
        assert name in table.stdout, table.stdout
    stop(process)
    assert not socket_file.exists()


def test_status_of_a_network_that_does_not_run_is_one_clear_error(project, reap):
    network(project, count=50)
    never = status(project, "--json")
    assert never.returncode == 1 and never.stdout == ""
    assert never.stderr.count("\n") == 1, never.stderr
    assert never.stderr.startswith("Error: network net is not running")
    assert "python3 manage.py net simulate" in never.stderr
    # a run that finished
    finished = project.manage("net", "simulate", "--quiet")
    assert finished.returncode == 0, finished.stderr
    after = status(project)
    assert after.returncode == 1 and after.stderr.startswith("Error: network net is not running")
    # a client that was killed leaves its socket file behind: nobody answers on it
    network(project)  # endless again
    process = project.start("net", "simulate", "--quiet")
    reap.append(process)
    wait_directory(project, all_running)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert (project.root / "net" / "simulation" / "status.sock").exists()
    stale = status(project, "--json")
    assert stale.returncode == 1 and stale.stderr.startswith("Error: network net is not running")
    # a network that does not exist at all is the usual error
    missing = project.manage("nonet", "status")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr


def test_plain_summary_lines_when_stdout_is_a_pipe(project, reap):
    network(project)
    process = project.start("net", "simulate")
    reap.append(process)
    time.sleep(4)
    stop(process)
    summaries = [line for line in process.lines if line.startswith("fission: ")]
    assert len(summaries) >= 3, process.lines
    running = [line for line in summaries if "jobs: 3 RUNNING" in line]
    assert running, summaries
    assert "rounds Count 1 1=" in running[-1] and "pipes 1: " in running[-1]
    # the jobs' output stays on stdout, prefixed, between the summaries
    assert any(line.startswith("[Double 2]") and "passing" in line for line in process.lines)
    assert not any("\x1b[" in line for line in process.lines)  # no terminal codes in a pipe


def test_quiet_turns_the_view_off(project, reap):
    network(project, count=300)
    result = project.manage("net", "simulate", "--quiet")
    assert result.returncode == 0, result.stderr
    assert not any(line.startswith("fission: ") for line in result.stdout.splitlines())
    assert "[Double 2] passing 100" in result.stdout


def test_terminal_view_shows_tables_and_the_jobs_lines_in_a_pane(project, reap):
    network(project, count=400)
    result = project.manage("net", "simulate", "--view", "terminal")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for part in ("FISSION", "servers", "jobs", "pipes", "job output", "FINISHED", "Sink 3"):
        assert part in out, part
    # the jobs' lines are inside the pane (a box), not printed on their own line
    assert "│ [Double 2] passing 100" in out, out[-3000:]
    assert not any(line.startswith("[Double 2]") for line in out.splitlines())
    assert "fission: every sink finished" in result.stderr


@pytest.mark.timeout(60)
def test_restarts_show_in_the_directory(project, reap):
    network(project)
    process = project.start("net", "simulate", "--restart", "--quiet")
    reap.append(process)
    running = wait_directory(project, lambda d: all_running(d) and d["jobs"][1]["rounds"] > 0)
    os.kill(running["jobs"][1]["pid"], signal.SIGKILL)
    again = wait_directory(
        project, lambda d: d["jobs"][1]["restarts"] == 1 and all_running(d), timeout=20
    )
    middle = again["jobs"][1]
    assert middle["epoch"] == 2 and middle["pid"] != running["jobs"][1]["pid"]
    assert middle["endpoint"] and middle["endpoint"] != running["jobs"][1]["endpoint"]
    assert any("restart 1 of 2" in event["text"] for event in again["events"]), again["events"]
    assert [job["restarts"] for job in again["jobs"]] == [0, 1, 0]
    rising = wait_directory(project, lambda d: d["jobs"][1]["rounds"] > middle["rounds"])
    assert rising["jobs"][1]["live"]
    table = status(project)
    assert "restart 1 of 2" in table.stdout, table.stdout
    stop(process)


def test_status_watch_json_prints_one_document_per_line_until_the_network_ends(project, reap):
    network(project, count=500)  # about 3 s of blocks
    process = project.start("net", "simulate", "--quiet")
    reap.append(process)
    wait_directory(project, all_running)
    watch = project.manage("net", "status", "--watch", "--json", timeout=30)
    assert watch.returncode == 0, watch.stderr
    documents = [json.loads(line) for line in watch.stdout.splitlines()]
    assert len(documents) >= 2
    assert [d["updated"] for d in documents] == sorted(d["updated"] for d in documents)
    assert "net is no longer running" in watch.stderr
    assert process.wait(timeout=20) == 0


def test_on_a_terminal_the_display_is_drawn_in_place(project, reap):
    """stdout a pseudo-terminal (as in an SSH session): the display, redrawn in place."""
    network(project)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "net", "simulate"],
        cwd=project.root,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "100", "LINES": "30"},
    )
    reap.append(process)
    os.close(terminal)
    seen = bytearray()
    deadline = time.monotonic() + 20
    while (seen.count(b"FISSION") < 4 or b"passing 100" not in seen) and (
        time.monotonic() < deadline
    ):
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            seen += os.read(controller, 65536)
    os.killpg(process.pid, signal.SIGINT)
    while True:  # drain until the client closed the terminal
        ready, _, _ = select.select([controller], [], [], 5)
        try:
            chunk = os.read(controller, 65536) if ready else b""
        except OSError:  # EIO: every writer is gone
            chunk = b""
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert process.wait(timeout=20) == 0
    raw = seen.decode(errors="replace")
    assert "\x1b[" in raw  # cursor movements and colours: a live display, not summary lines
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    assert text.count("FISSION net  RUNNING") >= 4, text[-2000:]  # redrawn in place
    assert "│ [Double 2] passing 100" in text
    assert "fission: 0:0" not in text  # no plain summary lines
    assert "fission: Ctrl+C: stopping every job" in text  # printed above the display

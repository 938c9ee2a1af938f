"""The seed tutorial's network, typed in as the seed shows it, under `simulate`."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from tests.conftest import DATA, alive, descendants, wait_for_line

EXPECTED = "5 -> Sum over [1, 8, 27, 64, 125] is 225"


def abstract_sockets(token: str) -> list[str]:
    with open("/proc/net/unix") as handle:
        return [line for line in handle if token in line]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_tutorial_runs_and_stops_cleanly(project, reap, sig):
    project.copy_network(DATA / "demo_network_v1")
    process = project.start("demo_network_v1", "simulate")
    reap.append(process)
    if sig == signal.SIGINT:
        lines = wait_for_line(process, EXPECTED, timeout=30)
        # every job's prints reach the terminal prefixed by the job (DEBUG_WINDOW = True)
        assert any(line.startswith("[SourceJob 1]") and "1 -> 1" in line for line in lines)
        assert any(line.startswith("[JoinJob 4]") and "4 -> 125" in line for line in lines)
        # nothing is dropped: the first batch of five is exactly rounds 1..5
        reduce_lines = [line for line in lines if line.startswith("[ReduceJob 5]")]
        assert reduce_lines[0].endswith(EXPECTED)
    else:
        wait_for_line(process, "[JoinJob 4]", timeout=30)
    hosts = descendants(process.pid)
    assert len(hosts) >= 6  # zygote + 5 job hosts
    started = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(process.pid, sig)  # what Ctrl+C on the terminal does: the whole group
    else:
        process.send_signal(sig)
    process.wait(timeout=5)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"stopping took {elapsed:.2f} s"
    assert process.returncode == 0
    time.sleep(0.1)
    assert not alive(hosts), "job processes left behind"
    run = project.root / "demo_network_v1" / "simulation"
    token = re.search(r"unix:@(fission-[0-9a-f]+)-", (run / "FISSION.log").read_text()).group(1)
    assert not abstract_sockets(token), "sockets left behind"

    assert sorted(p.name for p in run.iterdir()) == [
        ".fission-run",
        "1",
        "2",
        "3",
        "4",
        "5",
        "FISSION.log",
        "info.txt",
        "summary.json",
    ]
    info = (run / "info.txt").read_text()
    for number, kind in [
        (1, "SourceJob"),
        (2, "SourceJob"),
        (3, "SourceJob"),
        (4, "JoinJob"),
        (5, "ReduceJob"),
    ]:
        assert f"{number}  {kind}" in info
    assert "1 -> 1" in (run / "1" / "job.log").read_text()
    if sig == signal.SIGINT:
        assert EXPECTED in (run / "5" / "job.log").read_text()
    client_log = (run / "FISSION.log").read_text()
    assert "all 5 jobs ready" in client_log and "stopping" in client_log
    assert not list(run.rglob("*.fifo"))


def test_run_folder_is_recreated(project, reap):
    project.copy_network(DATA / "demo_network_v1")
    stale = project.root / "demo_network_v1" / "simulation" / "stale.txt"
    stale.parent.mkdir(parents=True)
    (stale.parent / ".fission-run").write_text("")  # a previous run's folder
    stale.write_text("old run")
    process = project.start("demo_network_v1", "simulate")
    reap.append(process)
    wait_for_line(process, "[SourceJob", timeout=30)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=5)
    assert not stale.exists()


def test_debug_window_off_keeps_output_in_the_job_logs(project, reap):
    folder = project.copy_network(DATA / "demo_network_v1")
    config = folder / "config.py"
    text = config.read_text().replace("DEBUG_WINDOW = True", "DEBUG_WINDOW = False")
    text = text.replace('LOG_LEVEL = "INFO"', 'LOG_LEVEL = "DEBUG"')
    config.write_text(text.replace('LOG_FILE = "FISSION.log"', 'LOG_FILE = "client.log"'))
    process = project.start("demo_network_v1", "simulate")
    reap.append(process)
    run = folder / "simulation"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = run / "4" / "job.log"
        if log.exists() and "4 -> 8" in log.read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail("JoinJob never logged its second round")
    process.send_signal(signal.SIGINT)
    process.wait(timeout=5)
    time.sleep(0.2)
    assert not any("->" in line for line in process.lines)  # nothing on the terminal
    client_log = (run / "client.log").read_text()
    assert " DEBUG " in client_log and not (run / "FISSION.log").exists()


def test_simulate_folder_option(project, reap, tmp_path):
    project.copy_network(DATA / "demo_network_v1")
    target = tmp_path / "elsewhere"
    process = project.start("demo_network_v1", "simulate", "--folder", str(target))
    reap.append(process)
    wait_for_line(process, "[SourceJob", timeout=30)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=5)
    assert (target / "info.txt").is_file()
    assert not Path(project.root / "demo_network_v1" / "simulation").exists()

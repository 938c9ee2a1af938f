"""The live view renders directory documents; here a made-up document of a bigger network."""

from __future__ import annotations

import os

from rich.console import Console

from fission.client.liveview import OutputPane, render, summary_line


def document(jobs: int = 30) -> dict:
    return {
        "schema": 1,
        "network": "lab",
        "run_folder": "/tmp/lab/simulation",
        "client_pid": 1,
        "state": "RUNNING",
        "started": 1000.0,
        "updated": 1075.0,
        "jobs": [
            {
                "id": n,
                "name": f"Job {n}",
                "kind": "Job",
                "server": "s1" if n % 2 else "s2",
                "endpoint": f"tcp:10.0.0.{n}:4000",
                "state": "RESTARTING" if n == 7 else "RUNNING",
                "epoch": 1,
                "pid": 100 + n,
                "restarts": 1 if n == 7 else 0,
                "rounds": 500 - n,
                "live": n != 7,
                "last_report_s": 4.0 if n == 7 else 0.3,
                "inputs": [n - 1] if n > 1 else [],
                "outputs": [n] if n < jobs else [],
                "error": "",
            }
            for n in range(1, jobs + 1)
        ],
        "pipes": [
            {
                "id": n,
                "producer": f"Job {n}",
                "consumer": f"Job {n + 1}",
                "blocks_per_s": 12345.0,
                "credit_used": 17,
                "credit_window": 4096,
                "unacked_bytes": 900,
                "lag": 3,
                "gaps": 2 if n == 4 else 0,
                "duplicates": 0,
                "connected": True,
            }
            for n in range(1, jobs)
        ],
        "servers": [
            {"name": "s1", "alive": True, "jobs": 15, "slots": 20, "load": 0.75},
            {"name": "s2", "alive": False, "jobs": 0, "slots": 20, "load": 0.0},
        ],
        "events": [{"time": 1070.0, "text": "Job 7: its server s2 died; moving it"}],
    }


def shown(renderable, height: int) -> list[str]:
    with open(os.devnull, "w") as nowhere:
        console = Console(width=100, height=height, record=True, file=nowhere)
        console.print(renderable)
    return console.export_text().splitlines()


def test_a_big_network_fits_the_terminal_and_the_output_pane_shows_the_newest_lines():
    pane = OutputPane()
    for n in range(50):
        pane.write(f"[Job 3] line {n}\n")
    pane.write("[Job 3] half a li")  # not complete: not shown yet
    lines = shown(render(document(), pane.lines, height=40), height=40)
    assert 36 <= len(lines) <= 40, "\n".join(lines)  # the pane takes what is left
    text = "\n".join(lines)
    assert "FISSION lab" in lines[0] and "1:15" in lines[0] and "1 restart(s)" in lines[0]
    assert "DEAD" in text and "RESTARTING" in text
    assert "more (manage.py status)" in text  # 30 jobs do not fit 40 lines
    assert "12k" in text and "17/4096" in text
    assert "its server s2 died" in text
    assert "[Job 3] line 49" in text and "half a li" not in text
    assert "[Job 3] line 0 " not in text  # scrolled away


def test_status_table_shows_every_job_when_height_is_unlimited():
    text = "\n".join(shown(render(document(), height=10_000), height=10_000))
    assert all(f"Job {n} " in text or text.endswith(f"Job {n}") for n in range(1, 31))
    assert "more" not in text and "job output" not in text


def test_summary_line_names_states_rounds_and_the_first_pipes():
    line = summary_line(document())
    assert line.startswith("fission: 1:15 RUNNING | jobs: 29 RUNNING, 1 RESTARTING | restarts 1")
    assert "rounds Job 1 1=499, " in line and "Job 6 6=494, +24 more |" in line
    assert "pipes 1: 12k/s lag 3 credit 17/4096 gaps 0; " in line and "; +23 more" in line
    assert "4: 12k/s lag 3 credit 17/4096 gaps 2" in line
    assert "\n" not in line

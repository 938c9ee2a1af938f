"""Acceptance: the seed tutorial's extended network (its 'locals' graph) under `simulate`.

InteractiveJob 1 -> JoinJob 5 over the optional pipe 104; CSVSinkJob 7 fed by 201-205 and
CSVSinkJob 8 fed by 301. The sources pause after five values until the test opens a gate; in
between, the test types '+' into the InteractiveJob's named pipe (no terminal is attached), and
the rows after the pause show the sum instead of the product.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import DATA


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_typed_operator_changes_the_result_live(project, reap):
    project.copy_network(DATA / "seed_locals")
    process = project.start("seed_locals", "simulate")
    reap.append(process)
    run = project.root / "seed_locals" / "simulation"
    join_csv = run / "7" / "join.csv"
    # five rounds with the default operator '*', then the sources wait at the gate
    wait_for(lambda: len(lines_of(join_csv)) == 6, 30, "five rows in join.csv")
    fifo = run / "1" / "input.fifo"
    assert fifo.is_fifo()
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b" +\n")  # typed with a stray blank: OperatorPipe.pack normalises it
    os.close(fd)
    log = run / "1" / "job.log"
    wait_for(lambda: "read ' +'" in log.read_text(), 10, "the InteractiveJob to read the line")
    time.sleep(1.0)  # the block is on its way to JoinJob 5, which waits idle in select
    (run / "gate").touch()
    process.wait(timeout=30)
    errors = "".join(process.errors)
    assert process.returncode == 0, errors
    assert "every sink finished" in errors

    assert join_csv.read_text() == (
        "pipe_201,pipe_202,pipe_203,pipe_204,pipe_205\n"
        + "".join(f"{n},{n},{n},{n**3},*\n" for n in range(1, 6))
        + "".join(f"{n},{n},{n},{3 * n},+\n" for n in range(6, 11))
    )
    # ReducePipe has BLOCK_COUNT 5: rounds 1-5 (products) and 6-10 (sums), nothing dropped
    assert (run / "8" / "reduce.csv").read_text() == "pipe_301\n225\n120\n"


def test_without_input_the_default_operator_holds(project, reap):
    folder = project.copy_network(DATA / "seed_locals")
    config = folder / "config.py"
    config.write_text(config.read_text().replace('GATE = "../gate"', 'GATE = "."'))
    result = project.manage("seed_locals", "simulate", timeout=60)
    assert result.returncode == 0, result.stderr
    run = folder / "simulation"
    rows = lines_of(run / "7" / "join.csv")
    assert rows[1:] == [f"{n},{n},{n},{n**3},*" for n in range(1, 11)]
    assert lines_of(run / "8" / "reduce.csv") == [
        "pipe_301",
        "225",
        str(sum(n**3 for n in range(6, 11))),
    ]


def test_lines_typed_on_the_clients_terminal(project):
    """With a terminal attached (a pseudo-terminal here), the InteractiveJob reads it."""
    import pty
    import subprocess
    import sys
    import threading

    project.copy_network(DATA / "seed_locals")
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "seed_locals", "simulate"],
        cwd=project.root,
        stdin=slave,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    os.close(slave)
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)
    reader.start()
    try:
        run = project.root / "seed_locals" / "simulation"
        join_csv = run / "7" / "join.csv"
        wait_for(lambda: len(lines_of(join_csv)) == 6, 30, "five rows in join.csv")
        log = run / "1" / "job.log"
        assert "reading lines typed on /dev/pts/" in log.read_text()
        assert not (run / "1" / "input.fifo").exists()
        os.write(master, b"+\n")
        wait_for(lambda: "read '+'" in log.read_text(), 10, "the InteractiveJob to read the line")
        time.sleep(1.0)
        (run / "gate").touch()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    assert process.returncode == 0, "".join(errors)
    assert lines_of(join_csv)[6:] == [f"{n},{n},{n},{3 * n},+" for n in range(6, 11)]
    assert lines_of(run / "8" / "reduce.csv") == ["pipe_301", "225", "120"]

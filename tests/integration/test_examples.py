"""The networks in examples/ run from their project folder as the README shows, each with its
exact output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    target = tmp_path / "examples"
    shutil.copytree(
        EXAMPLES, target, ignore=shutil.ignore_patterns("simulation", "__pycache__", ".fission")
    )
    return target


def simulate(examples: Path, network: str) -> tuple[str, Path]:
    result = subprocess.run(
        [sys.executable, "manage.py", network, "simulate"],
        cwd=examples,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "every sink finished" in result.stderr
    return result.stdout, examples / network / "simulation"


def job_lines(stdout: str, job: str) -> list[str]:
    prefix = f"[{job}]"
    return [line[len(prefix) :].strip() for line in stdout.splitlines() if line.startswith(prefix)]


def test_outputs_broadcast_tuple_variadic(examples):
    stdout, run = simulate(examples, "outputs")
    assert job_lines(stdout, "JoinJob 3") == [f"{n} + {10 * n} = {11 * n}" for n in range(1, 6)]
    assert job_lines(stdout, "ReduceJob 4") == ["sum over [11, 22, 33, 44, 55] is 165"]
    assert (run / "5" / "join.csv").read_text() == "pipe_201,pipe_202,pipe_203\n" + "".join(
        f"{n},{10 * n},{11 * n}\n" for n in range(1, 6)
    )
    assert (run / "6" / "reduce.csv").read_text() == "reduce_301,reduce_302\n165,5\n"


def test_heads_user_bit_crosses_a_job_without_head(examples):
    stdout, run = simulate(examples, "heads")
    totals = [3 * n for n in range(1, 7)]
    assert job_lines(stdout, "CheckJob 5") == [
        f"{t} is big (head Head(0b00000001))"
        if t >= 10
        else f"{t} is small (head Head(0b00000000))"
        for t in totals
    ]
    assert (run / "6" / "checked.csv").read_text() == "col_5,col_6,col_7\n" + "".join(
        f"{t},big,1\n" if t >= 10 else f"{t},small,0\n" for t in totals
    )


def test_calculator_optional_operator_defaults_to_plus(examples):
    stdout, run = simulate(examples, "calculator")
    assert any("type lines into" in line and "input.fifo" in line for line in stdout.splitlines())
    assert job_lines(stdout, "CalcJob 4") == [f"{10 * n} + {n} = {11 * n}" for n in range(1, 11)]
    assert (run / "5" / "results.csv").read_text() == "pipe_401,pipe_402\n" + "".join(
        f"{11 * n},+\n" for n in range(1, 11)
    )

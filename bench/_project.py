"""Helpers shared by the benchmarks: build a throw-away FISSION project and run a network."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

__all__ = ["StolenShare", "make_project", "median", "run_simulate"]


def make_project(network: str, jobs_py: str, config_py: str, root: Path | None = None) -> Path:
    """Create ``<tmp>/proj/<network>`` with the given jobs.py and config.py; returns the project."""
    base = Path(root or tempfile.mkdtemp(prefix="fission-bench-"))
    project = base / "proj"
    subprocess.run(
        [sys.executable, "-m", "fission.cli.admin", "proj", "startproject"],
        cwd=base,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "manage.py", network, "startnetwork"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    (project / network / "jobs" / "jobs.py").write_text(textwrap.dedent(jobs_py))
    (project / network / "config.py").write_text(textwrap.dedent(config_py))
    return project


def run_simulate(project: Path, network: str, timeout: float = 300) -> dict:
    """Run ``manage.py <network> simulate`` to its end; returns the sink's result.json."""
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "manage.py", network, "simulate"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"simulate failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    results = sorted((project / network / "simulation").glob("*/result.json"))
    if not results:
        raise RuntimeError(f"no result.json written:\n{proc.stderr[-3000:]}")
    return json.loads(results[-1].read_text())


def median(values: list[float]) -> float:
    return statistics.median(values)


def _cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of this machine since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return sum(fields[:8]), fields[7]


class StolenShare:
    """Share of the machine's CPU time the hypervisor gave to other guests meanwhile.

    ``with StolenShare() as steal: ...`` then ``steal.share``. On a shared virtual machine
    the neighbours' load comes and goes; a repetition run while they took much is slower for
    reasons that have nothing to do with the code measured, so the benchmarks report it.
    """

    def __enter__(self) -> StolenShare:
        self._start = _cpu_ticks()
        self.share = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        total, stolen = (b - a for a, b in zip(self._start, _cpu_ticks(), strict=True))
        self.share = stolen / total if total else 0.0

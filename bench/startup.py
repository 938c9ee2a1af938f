"""Start-up time of ``manage.py <net> simulate``: launch to the first block at the sink.

Method. The seed tutorial network (tests/data/demo_network_v1: 3 SourceJobs -> JoinJob ->
ReduceJob behind a ReducePipe with BLOCK_COUNT=5) is copied into a fresh project, its config
and pipes unchanged. Its jobs.py is replaced by the same jobs without the 1 s sleep: each source
yields ``--values`` values (10) and returns, so the run ends by itself (10 JoinJob rounds, 2
ReduceJob rounds). Every job writes ``time.time()`` into its working folder in ``setup()`` and
on its first ``run()`` call. ``time.time()`` is taken just before ``Popen([python, manage.py,
demo_network_v1, simulate])``; everything is reported relative to it:

* ``first_setup_s`` / ``last_setup_s``: the first / last job host reached ``setup()``;
* ``source_first_s``: the first source began producing (first ``next()`` of its generator);
* ``join_first_s``: JoinJob's first ``run()`` call (first block through one hop);
* ``first_block_at_sink_s``: ReduceJob's first ``run()`` call, the headline figure. ReduceJob
  needs 5 blocks per round, so this is after 5 JoinJob rounds;
* ``exit_s``: the simulate process ended (the whole network finished and was torn down).

Baselines, in the same repetition and environment: ``python -c pass`` (interpreter),
``python -c "import fission.cli.main"`` (interpreter + import floor of the CLI) and
``python manage.py --help`` (the project's entry point doing nothing).

Byte-code: this machine's environment may set PYTHONDONTWRITEBYTECODE, and the editable install
has no ``__pycache__``, so every start would compile FISSION from source. Every command here runs
with PYTHONPYCACHEPREFIX=<tmp>/pycache (and without PYTHONDONTWRITEBYTECODE), as an installed
package would, after one warm-up run of each command (reported under ``warmup``; creating the
project already imported FISSION once, so it is not a cold-cache figure). The import floor with
the environment as it is (no byte-code cache for FISSION here) is ``import_floor_env_as_is_s``.

Bar (from the issue): first block at the sink under 0.5 s (the original FISSION needed 0.16 s).

Usage: python bench/startup.py [--reps 5] [--values 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _project import median

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "tests" / "data" / "demo_network_v1"
NETWORK = "demo_network_v1"

JOBS = """
# The seed tutorial's jobs without the 1 s sleep, stamping set-up and first call (bench/startup.py).
import time
from fission.core.jobs import PythonJob

VALUES = {values}


def stamp(name):
    with open(name, "w") as handle:
        handle.write(repr(time.time()))


class Stamped(PythonJob):
    def setup(self):
        stamp("setup.stamp")
        self.called = False

    def first_call(self):
        if not self.called:
            self.called = True
            stamp("first_run.stamp")


class SourceJob(Stamped):
    def run(self):
        self.first_call()
        for value in range(1, VALUES + 1):
            print(f"{{self.id}} -> {{value}}")
            yield value


class JoinJob(Stamped):
    def run(self, in_1, in_2, in_3):
        self.first_call()
        result = in_1 * in_2 * in_3
        print(f"{{self.id}} -> {{result}}")
        return result


class ReduceJob(Stamped):
    def run(self, L):
        self.first_call()
        result = sum(L)
        print(f"{{self.id}} -> Sum over {{L}} is {{result}}")
"""


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def make_demo_project(base: Path, values: int, env: dict[str, str]) -> Path:
    subprocess.run(
        [sys.executable, "-m", "fission.cli.admin", "proj", "startproject"],
        cwd=base,
        check=True,
        capture_output=True,
        env=env,
    )
    project = base / "proj"
    shutil.copytree(SEED, project / NETWORK, ignore=shutil.ignore_patterns("__pycache__"))
    (project / NETWORK / "jobs" / "jobs.py").write_text(
        textwrap.dedent(JOBS.format(values=values)).lstrip()
    )
    return project


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall time of one command run to its end (output discarded)."""
    start = time.time()
    subprocess.run(
        command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.time() - start


def read_stamp(path: Path) -> float:
    return float(path.read_text())


def simulate_once(project: Path, env: dict[str, str]) -> dict[str, float]:
    run_folder = project / NETWORK / "simulation"
    start = time.time()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", NETWORK, "simulate"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=60)
    exit_s = time.time() - start
    if proc.returncode != 0:
        raise RuntimeError(f"simulate failed ({proc.returncode}):\n{err[-3000:]}")
    # job ids: the 3 sources are 1..3, JoinJob 4, ReduceJob 5 (order of JOBS in config.py)
    setups = [read_stamp(run_folder / str(j) / "setup.stamp") - start for j in range(1, 6)]
    sources = [read_stamp(run_folder / str(j) / "first_run.stamp") - start for j in (1, 2, 3)]
    if "Sum over" not in out:
        raise RuntimeError(f"ReduceJob printed nothing:\n{out[-2000:]}\n{err[-2000:]}")
    return {
        "first_setup_s": min(setups),
        "last_setup_s": max(setups),
        "source_first_s": min(sources),
        "join_first_s": read_stamp(run_folder / "4" / "first_run.stamp") - start,
        "first_block_at_sink_s": read_stamp(run_folder / "5" / "first_run.stamp") - start,
        "exit_s": exit_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--values", type=int, default=10, help="values per source")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="fission-bench-startup-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    project = make_demo_project(base, args.values, env)
    print(f"project: {project}", file=sys.stderr)
    python = sys.executable
    commands = {
        "python_pass_s": [python, "-c", "pass"],
        "import_floor_s": [python, "-c", "import fission.cli.main"],
        "manage_help_s": [python, "manage.py", "--help"],
    }
    # warm-up: fills the byte-code cache (of the project's own modules, mostly)
    warmup = {name: timed(cmd, project, env) for name, cmd in commands.items()}
    warmup.update(simulate_once(project, env))
    print(f"warm-up: {json.dumps({k: round(v, 3) for k, v in warmup.items()})}", file=sys.stderr)
    reps = []
    for number in range(1, args.reps + 1):
        rep = {name: timed(cmd, project, env) for name, cmd in commands.items()}
        rep["import_floor_env_as_is_s"] = timed(
            commands["import_floor_s"], project, dict(os.environ)
        )
        rep.update(simulate_once(project, env))
        rep["sink_minus_import_floor_s"] = rep["first_block_at_sink_s"] - rep["import_floor_s"]
        rep["sink_over_import_floor"] = rep["first_block_at_sink_s"] / rep["import_floor_s"]
        print(
            f"rep {number}: {json.dumps({k: round(v, 3) for k, v in rep.items()})}", file=sys.stderr
        )
        reps.append(rep)
    med = {key: median([r[key] for r in reps]) for key in reps[0]}
    summary = {
        "benchmark": "startup",
        "machine": machine(),
        "network": "demo_network_v1 without the sleep",
        "values_per_source": args.values,
        "environment": {
            "PYTHONDONTWRITEBYTECODE_in_env": "PYTHONDONTWRITEBYTECODE" in os.environ,
            "timed_runs_use": "PYTHONPYCACHEPREFIX=<tmp>/pycache, warm",
        },
        "warmup": warmup,
        "repetitions": reps,
        "median": med,
        "bars": {"first_block_at_sink_under_0.5_s": med["first_block_at_sink_s"] < 0.5},
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

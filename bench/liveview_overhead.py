"""What the live view costs: the 3-job chain of chain_throughput.py with the view off, plain and
full, in the same run.

Chain: a source yields 1, 2, 3, ... as fast as it can -> a job doubling each value -> a sink
counting (PicklePipe of ints: the case where the client competes hardest for the 2 cores). Each
repetition runs ``manage.py chain simulate`` three times, in a rotating order, with stdout sent
to /dev/null:

* ``off``: ``--quiet`` (the baseline; the status socket is still served);
* ``plain``: ``--view plain``, one summary line a second (what a pipe or a log file gets);
* ``terminal``: ``--view terminal``, the full rich display redrawn twice a second, as on a
  terminal (forced, since stdout is not one);
* ``none`` (only with ``--baseline-src DIR``): FISSION from another source tree, e.g. the commit
  before the live view existed (``git archive <commit> src | tar -x -C DIR``), to show that the
  directory and the status socket, which ``off`` still has, cost nothing either.

The sink measures between its first and last block. Prints one JSON document with the medians
of ``--reps`` repetitions and, per repetition, each mode's throughput over the ``off`` run of
the same repetition.

Usage: python bench/liveview_overhead.py [--reps 5] [--items 1000000] [--baseline-src DIR/src]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _project import make_project, median

JOBS = """
import json, time
from fission.core.jobs import PythonJob


class CountSource(PythonJob):
    def __init__(self, items, **kwargs):
        super().__init__(**kwargs)
        self.items = items

    def run(self):
        for value in range(1, self.items + 1):
            yield value


class Double(PythonJob):
    def run(self, value):
        return value * 2


class CountSink(PythonJob):
    def setup(self):
        self.count = 0
        self.first = None

    def run(self, value):
        if self.first is None:
            self.first = time.perf_counter()
        self.count += 1
        self.last = time.perf_counter()

    def teardown(self):
        with open("result.json", "w") as handle:
            json.dump({"count": self.count, "seconds": self.last - self.first}, handle)
"""

CONFIG = """
from fission.core.pipes import PicklePipe
from chain.jobs.jobs import CountSource, Double, CountSink

JOBS = [
    CountSource({items}, outputs=[PicklePipe(1)]),
    Double(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    CountSink(inputs=[PicklePipe(2)]),
]
"""

MODES = {"off": ["--quiet"], "plain": ["--view", "plain"], "terminal": ["--view", "terminal"]}


def run_chain(project: Path, mode: str, items: int, baseline_src: str | None) -> float:
    """One simulate run in ``mode``; the sink's items/s."""
    env = dict(os.environ)
    if mode == "none":
        assert baseline_src is not None
        env["PYTHONPATH"] = baseline_src
    with open(os.devnull, "w") as nowhere:
        proc = subprocess.run(
            [sys.executable, "manage.py", "chain", "simulate", *MODES.get(mode, [])],
            cwd=project,
            stdout=nowhere,
            stderr=subprocess.PIPE,
            text=True,
            timeout=600,
            env=env,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"simulate ({mode}) failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads((project / "chain" / "simulation" / "3" / "result.json").read_text())
    assert result["count"] == items, result
    return result["count"] / result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--baseline-src", default=None, help="another FISSION's src folder")
    args = parser.parse_args()
    project = make_project("chain", JOBS, CONFIG.format(items=args.items))
    order = list(MODES) + (["none"] if args.baseline_src else [])
    reps = []
    for rep in range(args.reps):
        rotated = order[rep % len(order) :] + order[: rep % len(order)]
        rates = {mode: run_chain(project, mode, args.items, args.baseline_src) for mode in rotated}
        row: dict = {f"{mode}_per_s": rates[mode] for mode in order}
        row["plain_ratio"] = rates["plain"] / rates["off"]
        row["terminal_ratio"] = rates["terminal"] / rates["off"]
        if "none" in rates:
            row["off_vs_none_ratio"] = rates["off"] / rates["none"]
        row["order"] = rotated
        reps.append(row)
        print(json.dumps(row), file=sys.stderr)
    numeric = [key for key in reps[0] if key != "order"]
    summary = {
        "benchmark": "liveview_overhead",
        "machine": (
            f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "items": args.items,
        "baseline_src": args.baseline_src,
        "repetitions": reps,
        "median": {key: median([r[key] for r in reps]) for key in numeric},
        "min": {key: min(r[key] for r in reps) for key in numeric},
        "max": {key: max(r[key] for r in reps) for key in numeric},
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

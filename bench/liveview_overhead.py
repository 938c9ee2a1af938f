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

The sink measures between its first and last block. This machine is shared, and throughput
moves by a factor of two from one minute to the next, so the script also reads the client
process's own CPU time (user + system, from /proc, without its children): that is what the
view takes away from the jobs, whatever the noise. Prints one JSON document with the medians
of ``--reps`` repetitions and, per repetition, each mode's throughput over the ``off`` run of
the same repetition.

Second part, in this process: the cost of one frame, measured on the real code with a
network of ``--frame-jobs`` (3 and 100 by default) whose job records carry progress reports like
the job hosts send: building the directory document (also what one ``status`` reading costs) and
drawing it with the full view into /dev/null. The full view does both twice a second; from
these, the share of one core the client spends on it.

Usage: python bench/liveview_overhead.py [--reps 5] [--items 1000000] [--baseline-src DIR/src]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import time
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


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of one process (not its children), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_chain(project: Path, mode: str, items: int, baseline_src: str | None) -> dict:
    """One simulate run in ``mode``: the sink's items/s and the client's own CPU time."""
    env = dict(os.environ)
    if mode == "none":
        assert baseline_src is not None
        env["PYTHONPATH"] = baseline_src
    with open(os.devnull, "w") as nowhere:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "chain", "simulate", *MODES.get(mode, [])],
            cwd=project,
            stdout=nowhere,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        started = time.monotonic()
        cpu = 0.0
        while proc.poll() is None:  # the last reading before it exits (within 50 ms)
            cpu = _cpu_seconds(proc.pid) or cpu
            time.sleep(0.05)
        wall = time.monotonic() - started
        errors = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"simulate ({mode}) failed ({proc.returncode}):\n{errors[-3000:]}")
    result = json.loads((project / "chain" / "simulation" / "3" / "result.json").read_text())
    assert result["count"] == items, result
    return {"per_s": result["count"] / result["seconds"], "client_cpu_s": cpu, "wall_s": wall}


CHAIN_CONFIG = """
from fission.core.pipes import PicklePipe
from chain.jobs.jobs import CountSource, Double, CountSink

JOBS = [CountSource(10, outputs=[PicklePipe(1)])]
JOBS += [Double(inputs=[PicklePipe(i)], outputs=[PicklePipe(i + 1)]) for i in range(1, {middle})]
JOBS += [CountSink(inputs=[PicklePipe({middle})])]
"""


def frame_cost(jobs: int, frames: int = 200) -> dict:
    """Milliseconds per directory document and per drawn frame for a chain of ``jobs`` jobs."""
    from fission.client.directory import Directory
    from fission.client.liveview import LiveView
    from fission.client.supervisor import Simulation
    from fission.core.loader import load_network

    project = make_project("chain", JOBS, CHAIN_CONFIG.format(middle=jobs - 1))
    network = load_network(project, "chain")
    sim = Simulation(network, project / "chain" / "simulation", "00" * 32)
    now = time.monotonic()
    for record in sim.records.values():
        record.state, record.pid, record.last_seen = "RUNNING", 4242, now
        record.endpoint = f"unix:@fission-0123456789ab-job{record.job.id}-e1"
        record.stats = {
            "round": 123456,
            "inputs": {
                str(p.id): {"next": 123457, "received": 123456, "per_s": 4321.5, "queued": 3,
                            "gaps": 0, "duplicates": 0}
                for p in record.job.inputs
            },
            "outputs": {
                str(p.id): {"last": 123460, "acked": 123400, "unacked_bytes": 900,
                            "connected": True, "closed": False}
                for p in record.job.outputs
            },
        }  # fmt: skip
    directory = Directory(network)
    for n in range(5):
        directory.note_event(f"fission: Double {n + 2}: restart 1 of 3")
    started = time.process_time()
    for _ in range(frames):
        document = directory.snapshot(sim).to_dict()
        json.dumps(document, separators=(",", ":"))
    snapshot_ms = (time.process_time() - started) / frames * 1000
    with open(os.devnull, "w") as nowhere:
        view = LiveView(nowhere, errors=io.StringIO(), mode="terminal")
        assert view.pane is not None
        for n in range(300):
            view.pane.write(f"[Double 2] passing {n}\n")
        view.show(document)  # the first frame imports rich: not counted
        started = time.process_time()
        for _ in range(frames):
            view.show(document)
        render_ms = (time.process_time() - started) / frames * 1000
        view.close()
    # the full view builds a document and draws it twice a second; a `status` reading costs
    # one more document
    per_second = (snapshot_ms + render_ms) / view.interval
    return {
        "jobs": jobs,
        "snapshot_ms": snapshot_ms,
        "render_ms": render_ms,
        "client_core_share": per_second / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--baseline-src", default=None, help="another FISSION's src folder")
    parser.add_argument("--frame-jobs", type=int, nargs="*", default=[3, 100])
    args = parser.parse_args()
    frames = [frame_cost(jobs) for jobs in args.frame_jobs]
    for frame in frames:
        print(json.dumps(frame), file=sys.stderr)
    project = make_project("chain", JOBS, CONFIG.format(items=args.items))
    order = list(MODES) + (["none"] if args.baseline_src else [])
    reps = []
    for rep in range(args.reps):
        rotated = order[rep % len(order) :] + order[: rep % len(order)]
        runs = {mode: run_chain(project, mode, args.items, args.baseline_src) for mode in rotated}
        row: dict = {}
        for mode in order:
            row[f"{mode}_per_s"] = runs[mode]["per_s"]
            row[f"{mode}_client_cpu_s"] = runs[mode]["client_cpu_s"]
            # the client's CPU per second of the run: what it takes from the jobs' 2 cores
            row[f"{mode}_client_cpu_share"] = runs[mode]["client_cpu_s"] / runs[mode]["wall_s"]
        row["plain_ratio"] = runs["plain"]["per_s"] / runs["off"]["per_s"]
        row["terminal_ratio"] = runs["terminal"]["per_s"] / runs["off"]["per_s"]
        if "none" in runs:
            row["off_vs_none_ratio"] = runs["off"]["per_s"] / runs["none"]["per_s"]
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
        "frames": frames,
        "repetitions": reps,
        "median": {key: median([r[key] for r in reps]) for key in numeric},
        "min": {key: min(r[key] for r in reps) for key in numeric},
        "max": {key: max(r[key] for r in reps) for key in numeric},
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

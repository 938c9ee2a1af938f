"""Memory of job hosts under ``manage.py <net> simulate``: peak per host, 100 jobs, flat RSS.

Three parts, each through a real simulate run of a throw-away project:

(a) ``chain``: source -> double -> sink over PicklePipes of ints (``--items``). In teardown every
    job writes its ``ru_maxrss`` (peak RSS, KiB), its current VmRSS and its PSS (from
    /proc/self/smaps_rollup; PSS splits pages shared with the zygote fairly, so PSS adds up
    across processes while RSS does not) into ``rss.json`` in its working folder.
    Reported: median and max peak RSS over the 3 hosts.
(b) ``hundred``: 100 jobs that run to completion. ``--shape chain`` (default): 1 source
    (``--hundred-items`` ints) -> 98 pass-through jobs -> 1 sink, every block crossing 99 hops;
    ``--shape pairs``: 50 sources each feeding its own sink. Reported: wall time from Popen to
    exit, the client's "all jobs ready after" figure from the run log, total / median / max
    peak RSS and total PSS over the 100 hosts.
(c) ``flat``: the 3-job chain with 64 KiB BytesPipe blocks and an endless source (``while
    True: yield``, a fresh 64 KiB block per round, numbered so the sink checks order). Runs for
    ``--seconds`` (60); every ``--interval`` (2 s) the VmRSS of the simulate process, the zygote
    and every job host is read from /proc (hosts are found as descendants of the simulate
    process through /proc/<pid>/stat, and named by their working folder, /proc/<pid>/cwd).
    Then SIGINT goes to simulate, which must exit within 2 s; teardown must have run. Reported
    per process: first / last / min / max RSS, growth (last - first) and the peak growth: the
    samples after a warm-up (the first quarter of the run) are split in two halves, and peak
    growth = max of the second half - max of the first half. A producer holds up to
    CREDIT_BYTES (16 MiB) of unacknowledged blocks plus one batch, so its RSS legitimately
    swings by up to ~32 MiB from sample to sample; a bounded process has a stable maximum, a
    leaking one a rising maximum. "flat" = peak growth at most ``--flat-tolerance-kib`` for
    every job host. Also reported: the sink's throughput and block order.

Baselines, measured in the same run the same way (``ru_maxrss`` of a fresh process):
``python -c pass`` and the import floor every job host inherits from the zygote (python with
fission.cli.main, fission.client.supervisor and fission.runtime.host imported). Each host's
peak is also reported as a ratio to the import floor. A forked host maps file pages of its
parent lazily, so its RSS may start below the floor of a freshly started interpreter.

(a) and (b) are repeated ``--reps`` times (medians reported); (c) runs once, its samples being
its own repetition. Prints one JSON document on stdout, progress on stderr.

Usage: python bench/memory.py [--reps 3] [--items 300000] [--shape chain|pairs]
                              [--hundred-items 3000] [--seconds 60] [--interval 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _project import make_project, median

JOBS = """
import json, resource, time
from fission.core.jobs import PythonJob


def rss_report():
    status = open("/proc/self/status").read()
    vmrss = int(status.split("VmRSS:")[1].split()[0])
    try:
        rollup = open("/proc/self/smaps_rollup").read()
        pss = int(rollup.split("\\nPss:")[1].split()[0])
    except (OSError, IndexError):
        pss = None
    return {"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "vmrss_kib": vmrss, "pss_kib": pss}


class Reporting(PythonJob):
    def teardown(self):
        with open("rss.json", "w") as handle:
            json.dump(rss_report(), handle)


class CountSource(Reporting):
    def __init__(self, items, **kwargs):
        super().__init__(**kwargs)
        self.items = items

    def run(self):
        for value in range(1, self.items + 1):
            yield value


class Double(Reporting):
    def run(self, value):
        return value * 2


class Pass(Reporting):
    def run(self, value):
        return value


class CountSink(Reporting):
    def setup(self):
        self.count = 0

    def run(self, value):
        self.count += 1

    def teardown(self):
        super().teardown()
        with open("result.json", "w") as handle:
            json.dump({"count": self.count}, handle)


class EndlessBlocks(Reporting):
    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = size

    def run(self):
        block = bytearray(self.size)
        number = 0
        while True:
            number += 1
            block[:8] = number.to_bytes(8, "little")
            yield bytes(block)  # a fresh block each round


class BlockSink(Reporting):
    def setup(self):
        self.count = 0
        self.bytes = 0
        self.disorder = 0
        self.first = self.last = None

    def run(self, block):
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.count += 1
        self.bytes += len(block)
        if int.from_bytes(block[:8], "little") != self.count:
            self.disorder += 1

    def teardown(self):
        super().teardown()
        seconds = (self.last - self.first) if self.first is not None else 0.0
        with open("result.json", "w") as handle:
            json.dump({"count": self.count, "bytes": self.bytes, "disorder": self.disorder,
                       "seconds": seconds}, handle)
"""

CHAIN_CONFIG = """
from fission.core.pipes import PicklePipe
from mem.jobs.jobs import CountSource, Double, CountSink

JOBS = [
    CountSource({items}, outputs=[PicklePipe(1)]),
    Double(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    CountSink(inputs=[PicklePipe(2)]),
]
"""

HUNDRED_CHAIN_CONFIG = """
from fission.core.pipes import PicklePipe
from mem.jobs.jobs import CountSource, Pass, CountSink

JOBS = [CountSource({items}, outputs=[PicklePipe(1)])]
JOBS += [Pass(inputs=[PicklePipe(i)], outputs=[PicklePipe(i + 1)]) for i in range(1, 99)]
JOBS += [CountSink(inputs=[PicklePipe(99)])]
"""

HUNDRED_PAIRS_CONFIG = """
from fission.core.pipes import PicklePipe
from mem.jobs.jobs import CountSource, CountSink

JOBS = []
for i in range(1, 51):
    JOBS += [CountSource({items}, outputs=[PicklePipe(i)]), CountSink(inputs=[PicklePipe(i)])]
"""

FLAT_CONFIG = """
from fission.core.pipes import BytesPipe
from mem.jobs.jobs import EndlessBlocks, Pass, BlockSink

JOBS = [
    EndlessBlocks({size}, outputs=[BytesPipe(1, {size})]),
    Pass(inputs=[BytesPipe(1, {size})], outputs=[BytesPipe(2, {size})]),
    BlockSink(inputs=[BytesPipe(2, {size})]),
]
"""

FLOOR_IMPORTS = "import fission.cli.main, fission.client.supervisor, fission.runtime.host"


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- baselines ---------------------------------------------------------------------------------
def maxrss_of(code: str) -> int:
    """Peak RSS (KiB) of a fresh interpreter running ``code``."""
    probe = f"{code}\nimport resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1])


# -- running simulate --------------------------------------------------------------------------
def simulate(project: Path, timeout: float = 300) -> dict:
    """Run simulate to its end; wall time and what the jobs wrote."""
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "manage.py", "mem", "simulate"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.time() - start
    if proc.returncode != 0:
        raise RuntimeError(f"simulate failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return {"wall_s": wall, **collect(project)}


def collect(project: Path) -> dict:
    run_folder = project / "mem" / "simulation"
    hosts = {}
    results = {}
    for folder in sorted(run_folder.iterdir(), key=lambda p: p.name):
        if not folder.name.isdigit():
            continue
        if (folder / "rss.json").is_file():
            hosts[int(folder.name)] = json.loads((folder / "rss.json").read_text())
        if (folder / "result.json").is_file():
            results[int(folder.name)] = json.loads((folder / "result.json").read_text())
    ready = None
    log_file = run_folder / "FISSION.log"
    if log_file.is_file():
        found = re.search(r"all \d+ jobs ready after ([0-9.]+) s", log_file.read_text())
        ready = float(found.group(1)) if found else None
    jobs = sum(1 for p in run_folder.iterdir() if p.name.isdigit())
    return {"jobs": jobs, "hosts": hosts, "results": results, "all_ready_s": ready}


def host_summary(run: dict, floor_kib: int) -> dict:
    peaks = [h["maxrss_kib"] for h in run["hosts"].values()]
    pss = [h["pss_kib"] for h in run["hosts"].values() if h["pss_kib"] is not None]
    if len(peaks) != run["jobs"]:
        raise RuntimeError(f"only {len(peaks)} of {run['jobs']} jobs wrote rss.json")
    return {
        "hosts": len(peaks),
        "peak_rss_median_kib": statistics.median(peaks),
        "peak_rss_max_kib": max(peaks),
        "peak_rss_total_kib": sum(peaks),
        "peak_rss_median_over_import_floor": statistics.median(peaks) / floor_kib,
        "pss_at_teardown_total_kib": sum(pss) if pss else None,
        "pss_at_teardown_mean_kib": sum(pss) / len(pss) if pss else None,
    }


# -- (a) and (b) -------------------------------------------------------------------------------
def part_chain(items: int, floor_kib: int) -> dict:
    project = make_project("mem", JOBS, CHAIN_CONFIG.format(items=items))
    run = simulate(project)
    count = next(iter(run["results"].values()))["count"]
    if count != items:
        raise RuntimeError(f"the sink counted {count} of {items}")
    per_job = {str(j): h["maxrss_kib"] for j, h in sorted(run["hosts"].items())}
    return {
        **host_summary(run, floor_kib),
        "peak_rss_per_job_kib": per_job,
        "wall_s": run["wall_s"],
    }


def part_hundred(shape: str, items: int, floor_kib: int) -> dict:
    template = HUNDRED_CHAIN_CONFIG if shape == "chain" else HUNDRED_PAIRS_CONFIG
    project = make_project("mem", JOBS, template.format(items=items))
    run = simulate(project, timeout=600)
    counts = [r["count"] for r in run["results"].values()]
    expected = [items] * (1 if shape == "chain" else 50)
    if counts != expected:
        raise RuntimeError(f"sinks counted {counts}, expected {expected}")
    if run["jobs"] != 100:
        raise RuntimeError(f"{run['jobs']} jobs instead of 100")
    return {
        **host_summary(run, floor_kib),
        "wall_s": run["wall_s"],
        "all_ready_s": run["all_ready_s"],
    }


# -- (c) ---------------------------------------------------------------------------------------
def process_table() -> dict[int, int]:
    """pid -> ppid for every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        table[int(name)] = int(fields[1])
    return table


def descendants(root: int) -> list[int]:
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


def vmrss_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+)", status, re.MULTILINE)
    return int(found.group(1)) if found else None


def label_of(pid: int, root: int, run_folder: Path) -> str:
    if pid == root:
        return "simulate"
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return f"pid{pid}"
    if cwd.parent == run_folder:
        return f"job{cwd.name}"
    return "zygote"


def part_flat(seconds: float, interval: float, size: int, tolerance_kib: int) -> dict:
    project = make_project("mem", JOBS, FLAT_CONFIG.format(size=size))
    run_folder = (project / "mem" / "simulation").resolve()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "mem", "simulate"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    start = time.monotonic()
    series: dict[str, list[tuple[float, int]]] = {}
    labels: dict[int, str] = {}
    next_sample = start + interval
    try:
        while time.monotonic() - start < seconds:
            time.sleep(max(0.0, next_sample - time.monotonic()))
            next_sample += interval
            if proc.poll() is not None:
                raise RuntimeError(
                    f"simulate ended early ({proc.returncode}):\n{proc.stderr.read()[-3000:]}"
                )  # type: ignore[union-attr]
            now = time.monotonic() - start
            for pid in [proc.pid, *descendants(proc.pid)]:
                if pid not in labels:
                    labels[pid] = label_of(pid, proc.pid, run_folder)
                rss = vmrss_kib(pid)
                if rss is not None:
                    series.setdefault(labels[pid], []).append((now, rss))
            log(
                f"  t={now:5.1f} s  "
                + "  ".join(
                    f"{name}={points[-1][1] / 1024:.1f}M" for name, points in sorted(series.items())
                )
            )
    finally:
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        exit_after = time.monotonic() - sent
    run = collect(project)
    sink = max(run["results"].items())[1] if run["results"] else {}
    per_process = {}
    for name, points in sorted(series.items()):
        values = [rss for _, rss in points]
        steady = [rss for t, rss in points if t >= seconds / 4]
        half = len(steady) // 2
        peak_growth = max(steady[half:]) - max(steady[:half]) if half else 0
        per_process[name] = {
            "samples": len(values),
            "first_kib": values[0],
            "last_kib": values[-1],
            "min_kib": min(values),
            "max_kib": max(values),
            "growth_kib": values[-1] - values[0],
            "peak_growth_kib": peak_growth,
        }
    hosts = [v for k, v in per_process.items() if k.startswith("job")]
    return {
        "seconds": seconds,
        "interval_s": interval,
        "block_size": size,
        "per_process": per_process,
        "max_peak_growth_kib": max(h["peak_growth_kib"] for h in hosts),
        "flat": all(h["peak_growth_kib"] <= tolerance_kib for h in hosts),
        "flat_tolerance_kib": tolerance_kib,
        "sigint_exit_s": exit_after,
        "exit_code": proc.returncode,
        "exited_within_2_s": exit_after <= 2.0 and proc.returncode == 0,
        "teardown_ran_in": sorted(run["hosts"]),
        "sink": {
            "blocks": sink.get("count"),
            "out_of_order": sink.get("disorder"),
            "mb_per_s": (sink["bytes"] / sink["seconds"] / 1e6) if sink.get("seconds") else None,
        },
        "stderr_tail": err.strip().splitlines()[-3:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--items", type=int, default=300_000, help="(a) ints through the chain")
    parser.add_argument("--shape", choices=("chain", "pairs"), default="chain")
    parser.add_argument(
        "--hundred-items", type=int, default=3000, help="(b) ints per source in the 100-job network"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="(c) run time")
    parser.add_argument("--interval", type=float, default=2.0, help="(c) sampling period")
    parser.add_argument("--size", type=int, default=64 * 1024, help="(c) block size")
    parser.add_argument(
        "--flat-tolerance-kib", type=int, default=4096, help="(c) peak growth still called flat"
    )
    parser.add_argument("--skip", default="", help="parts to skip, e.g. 'c' or 'ab'")
    args = parser.parse_args()

    floor = {
        "python_pass_maxrss_kib": maxrss_of("pass"),
        "import_floor_maxrss_kib": maxrss_of(FLOOR_IMPORTS),
    }
    log(f"baselines: {floor}")
    floor_kib = floor["import_floor_maxrss_kib"]
    summary: dict = {
        "benchmark": "memory",
        "machine": machine(),
        "baseline": floor,
    }
    if "a" not in args.skip:
        reps = []
        for number in range(1, args.reps + 1):
            rep = part_chain(args.items, floor_kib)
            log(f"(a) rep {number}: {json.dumps(rep)}")
            reps.append(rep)
        summary["a_chain"] = {
            "items": args.items,
            "repetitions": reps,
            "median": {
                k: median([r[k] for r in reps])
                for k in reps[0]
                if isinstance(reps[0][k], (int, float))
            },
        }
    if "b" not in args.skip:
        reps = []
        for number in range(1, args.reps + 1):
            rep = part_hundred(args.shape, args.hundred_items, floor_kib)
            log(f"(b) rep {number}: {json.dumps(rep)}")
            reps.append(rep)
        summary["b_hundred"] = {
            "shape": args.shape,
            "items_per_source": args.hundred_items,
            "repetitions": reps,
            "median": {
                k: median([r[k] for r in reps])
                for k in reps[0]
                if isinstance(reps[0][k], (int, float))
            },
        }
    if "c" not in args.skip:
        log(f"(c) flat RSS for {args.seconds:.0f} s")
        summary["c_flat"] = part_flat(
            args.seconds, args.interval, args.size, args.flat_tolerance_kib
        )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

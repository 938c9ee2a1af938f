"""Per-hop latency of a 3-job chain with one block in flight, against raw os.pipe in the same run.

Method. A source yields ``time.perf_counter()`` (t0) and sleeps ``--pause`` (1 ms) between
yields, so at most one block is in flight; after ``--blocks`` values its generator returns. The
middle job stamps t1 on receipt and passes ``(t0, t1)`` on; the sink stamps t2. hop1 = t1 - t0
(source -> middle), hop2 = t2 - t1 (middle -> sink). ``perf_counter`` is CLOCK_MONOTONIC on
Linux, so stamps from different processes compare. The first ``--warmup`` blocks are dropped.
Each hop covers what a user sees: encode, framing, the socket, the consumer's wake-up, decode
and the call of ``run``. All three jobs run through ``manage.py <net> simulate``.

Baselines, in the same repetition:

* ``pingpong``: two forked processes bounce 8 bytes over a pair of os.pipe, unpaced; half the
  round trip (the floor of one hop: one write, one wake-up, one read);
* ``raw_chain``: three forked processes doing what the FISSION chain does (t0 -> stamp t1 ->
  stamp t2, 1 ms pacing, fixed-size struct records over os.pipe), measured the same way.

Bars (from the issue): p50 under 100 us and p99 under 500 us per hop.

Prints one JSON document (medians over ``--reps`` and FISSION / raw_chain ratios); progress on
stderr. Usage: python bench/latency.py [--reps 3] [--blocks 2000] [--warmup 100] [--pause 0.001]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _project import make_project, median, run_simulate

JOBS = """
import json, time
from fission.core.jobs import PythonJob


class StampSource(PythonJob):
    def __init__(self, blocks, pause, **kwargs):
        super().__init__(**kwargs)
        self.blocks = blocks
        self.pause = pause

    def run(self):
        for _ in range(self.blocks):
            yield time.perf_counter()
            time.sleep(self.pause)


class StampMiddle(PythonJob):
    def run(self, t0):
        return ((t0, time.perf_counter()),)  # one value (a pair), not one value per output


class StampSink(PythonJob):
    def setup(self):
        self.stamps = []

    def run(self, pair):
        self.stamps.append((pair[0], pair[1], time.perf_counter()))

    def teardown(self):
        with open("result.json", "w") as handle:
            json.dump({"stamps": self.stamps}, handle)
"""

CONFIG = """
from fission.core.pipes import PicklePipe
from latency.jobs.jobs import StampSource, StampMiddle, StampSink

JOBS = [
    StampSource({blocks}, {pause}, outputs=[PicklePipe(1)]),
    StampMiddle(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    StampSink(inputs=[PicklePipe(2)]),
]
"""


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarize(hop: list[float]) -> dict[str, float]:
    """p50 / p99 / max of a list of seconds, in microseconds."""
    return {
        "p50_us": percentile(hop, 50) * 1e6,
        "p99_us": percentile(hop, 99) * 1e6,
        "max_us": max(hop) * 1e6,
    }


def hops(stamps: list[tuple[float, float, float]], warmup: int) -> dict[str, dict[str, float]]:
    kept = stamps[warmup:]
    if not kept:
        raise RuntimeError(f"only {len(stamps)} blocks arrived, all inside the warm-up")
    return {
        "hop1": summarize([t1 - t0 for t0, t1, _ in kept]),
        "hop2": summarize([t2 - t1 for _, t1, t2 in kept]),
    }


# -- FISSION -----------------------------------------------------------------------------------
def fission_chain(project: Path, blocks: int, warmup: int) -> dict:
    result = run_simulate(project, "latency")
    stamps = [tuple(s) for s in result["stamps"]]
    if len(stamps) != blocks:
        raise RuntimeError(f"the sink got {len(stamps)} of {blocks} blocks")
    return {"blocks": len(stamps), **hops(stamps, warmup)}  # type: ignore[arg-type]


# -- raw baselines ------------------------------------------------------------------------------
_ONE = struct.Struct("<d")
_TWO = struct.Struct("<dd")


def _read_exact(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def raw_pingpong(rounds: int, warmup: int) -> dict[str, float]:
    """Half round trips of 8 bytes between two forked processes over two os.pipe."""
    ping_r, ping_w = os.pipe()
    pong_r, pong_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ping_w)
            os.close(pong_r)
            while True:
                data = _read_exact(ping_r, 8)
                if not data:
                    break
                os.write(pong_w, data)
        finally:
            os._exit(0)
    os.close(ping_r)
    os.close(pong_w)
    clock = time.perf_counter
    halves: list[float] = []
    for _ in range(rounds):
        start = clock()
        os.write(ping_w, _ONE.pack(start))
        _read_exact(pong_r, 8)
        halves.append((clock() - start) / 2)
    os.close(ping_w)
    os.close(pong_r)
    os.waitpid(pid, 0)
    return summarize(halves[warmup:])


def raw_chain(blocks: int, warmup: int, pause: float) -> dict:
    """Three forked processes: paced t0 -> stamp t1 -> stamp t2, struct records over os.pipe."""
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    res_r, res_w = os.pipe()
    clock = time.perf_counter
    if os.fork() == 0:  # source
        try:
            for fd in (a_r, b_r, b_w, res_r, res_w):
                os.close(fd)
            for _ in range(blocks):
                os.write(a_w, _ONE.pack(clock()))
                time.sleep(pause)
        finally:
            os._exit(0)
    if os.fork() == 0:  # middle
        try:
            for fd in (a_w, b_r, res_r, res_w):
                os.close(fd)
            while True:
                data = _read_exact(a_r, _ONE.size)
                if not data:
                    break
                t1 = clock()
                os.write(b_w, _TWO.pack(_ONE.unpack(data)[0], t1))
        finally:
            os._exit(0)
    if os.fork() == 0:  # sink
        try:
            for fd in (a_r, a_w, b_w, res_r):
                os.close(fd)
            stamps = []
            while True:
                data = _read_exact(b_r, _TWO.size)
                if not data:
                    break
                t2 = clock()
                stamps.append((*_TWO.unpack(data), t2))
            payload = json.dumps(stamps).encode()
            view = memoryview(payload)
            while view:
                view = view[os.write(res_w, view) :]
        finally:
            os._exit(0)
    for fd in (a_r, a_w, b_r, b_w, res_w):
        os.close(fd)
    chunks = []
    while chunk := os.read(res_r, 1 << 16):
        chunks.append(chunk)
    os.close(res_r)
    for _ in range(3):
        os.wait()
    stamps = [tuple(s) for s in json.loads(b"".join(chunks))]
    return {"blocks": len(stamps), **hops(stamps, warmup)}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--pause", type=float, default=0.001, help="seconds between yields")
    args = parser.parse_args()
    project = make_project("latency", JOBS, CONFIG.format(blocks=args.blocks, pause=args.pause))
    print(f"project: {project}", file=sys.stderr)
    reps = []
    for number in range(1, args.reps + 1):
        ping = raw_pingpong(args.blocks, args.warmup)
        raw = raw_chain(args.blocks, args.warmup, args.pause)
        fis = fission_chain(project, args.blocks, args.warmup)
        rep = {
            "fission_hop1_p50_us": fis["hop1"]["p50_us"],
            "fission_hop1_p99_us": fis["hop1"]["p99_us"],
            "fission_hop2_p50_us": fis["hop2"]["p50_us"],
            "fission_hop2_p99_us": fis["hop2"]["p99_us"],
            "fission_hop1_max_us": fis["hop1"]["max_us"],
            "fission_hop2_max_us": fis["hop2"]["max_us"],
            "raw_chain_hop1_p50_us": raw["hop1"]["p50_us"],
            "raw_chain_hop1_p99_us": raw["hop1"]["p99_us"],
            "raw_chain_hop2_p50_us": raw["hop2"]["p50_us"],
            "raw_chain_hop2_p99_us": raw["hop2"]["p99_us"],
            "pingpong_half_rtt_p50_us": ping["p50_us"],
            "pingpong_half_rtt_p99_us": ping["p99_us"],
        }
        print(
            f"rep {number}: {json.dumps({k: round(v, 1) for k, v in rep.items()})}", file=sys.stderr
        )
        reps.append(rep)
    med = {key: median([r[key] for r in reps]) for key in reps[0]}
    worst_p50 = max(med["fission_hop1_p50_us"], med["fission_hop2_p50_us"])
    worst_p99 = max(med["fission_hop1_p99_us"], med["fission_hop2_p99_us"])
    summary = {
        "benchmark": "latency",
        "machine": machine(),
        "blocks": args.blocks,
        "warmup_blocks_dropped": args.warmup,
        "pause_s": args.pause,
        "repetitions": reps,
        "median": med,
        "ratio_vs_raw_chain": {
            f"hop{h}_{q}": med[f"fission_hop{h}_{q}_us"] / med[f"raw_chain_hop{h}_{q}_us"]
            for h in (1, 2)
            for q in ("p50", "p99")
        },
        "bars": {
            "p50_under_100_us": worst_p50 < 100,
            "p99_under_500_us": worst_p99 < 500,
        },
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

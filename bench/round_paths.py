"""CPU cost of the job host's round paths, in one process: plain, HEAD and optional inputs.

A job host is built around a job doubling each value (one PicklePipe input, one output) and
its input queue is filled with pickled ints, as the link would after reading them. Then the
host's own round loop runs until every block is processed; output batches are dropped. No
sockets and no other processes, so the figure is the aligner's and the job API's CPU cost per
round (CPU time, not wall time: other processes on the machine do not count).

Variants, all measured in the same run (baseline: ``plain``):

* ``plain``: the fast path (no heads, no optional input);
* ``flagged``: every block carries a user head bit, so the plain job takes the general path
  and passes the bit on;
* ``head``: the job has ``HEAD = True`` (in_heads, head_reduce, out_heads every round);
* ``optional``: the job has a second, optional input (nothing queued on it: the default).

Usage: python bench/round_paths.py [--rounds 200000] [--reps 7]
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from fission.core.jobs import PythonJob
from fission.core.pipes import OptionalPicklePipe, PicklePipe
from fission.runtime.host import HostSpec, JobHost


class Double(PythonJob):
    def run(self, value, *optional):
        return value * 2


class HeadDouble(Double):
    HEAD = True


def rounds_per_cpu_second(variant: str, rounds: int) -> float:
    job_class = HeadDouble if variant == "head" else Double
    inputs = [PicklePipe(1)]
    if variant == "optional":
        inputs.append(OptionalPicklePipe(3))
    job = job_class(inputs=inputs, outputs=[PicklePipe(2)])
    job.id = 1
    spec = HostSpec(
        job_id=1,
        epoch=1,
        listen="",
        control="",
        secret="00",
        window_blocks=1 << 30,
        window_bytes=1 << 40,
    )
    host = JobHost(job, spec)
    host._use_alarm = False  # no flush timer: batches are dropped below
    flags = 0x01 if variant == "flagged" else 0
    queue = host.inputs[0].queue
    for sqn in range(1, rounds + 1):
        queue.append((sqn, 1, flags, pickle.dumps(sqn)))
    output = host.outputs[0]
    started = time.process_time()
    while host.round < rounds:
        host._process_rounds()
        output.batch.clear()
    return rounds / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    variants = ("plain", "flagged", "head", "optional")
    samples: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.reps):
        for variant in variants:  # interleaved, so a noisy moment hits every variant alike
            samples[variant].append(rounds_per_cpu_second(variant, args.rounds))
    medians = {v: statistics.median(samples[v]) for v in variants}
    print(
        json.dumps(
            {
                "benchmark": "round_paths",
                "machine": f"{platform.machine()} {len(__import__('os').sched_getaffinity(0))} "
                f"cores, Python {platform.python_version()}",
                "rounds": args.rounds,
                "repetitions": args.reps,
                "median_rounds_per_cpu_s": medians,
                "ratio_to_plain": {v: medians[v] / medians["plain"] for v in variants},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

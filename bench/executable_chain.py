"""Throughput of a BytesPipe chain through a C executable, against the same program fed by raw
os.pipe in the same run.

FISSION: a Python source yields N blocks -> an ExecutableJob running ``relay`` (a C program
copying fixed-size blocks from its -i FIFO to its -o FIFO, flushing each) -> a Python sink.
Baseline: a Python process writing the same blocks into an os.pipe -> the same ``relay``
binary (given /dev/fd paths) -> an os.pipe -> a Python process reading exact blocks. The sink
measures between its first and last block in both. Medians over ``--reps`` repetitions, per
block size; the ratio is FISSION / baseline.

Usage: python bench/executable_chain.py [--reps 3] [--sizes 4096,65536] [--megabytes 512]
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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _project import StolenShare, make_project, median, run_simulate

RELAY_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* relay -s SIZE -i IN -o OUT: copies SIZE-byte blocks, one flush per block */
int main(int argc, char **argv) {
    const char *in = 0, *out = 0; long size = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-i")) in = argv[i + 1];
        else if (!strcmp(argv[i], "-o")) out = argv[i + 1];
        else if (!strcmp(argv[i], "-s")) size = atol(argv[i + 1]);
    }
    FILE *src = fopen(in, "rb"), *dst = fopen(out, "wb");
    if (!src || !dst || size <= 0) { perror("relay"); return 2; }
    char *block = malloc(size);
    while (fread(block, size, 1, src) == 1) { fwrite(block, size, 1, dst); fflush(dst); }
    return 0;
}
"""

JOBS = """
import json, os, time
from fission.core.jobs import ExecutableJob, PythonJob


class Blocks(PythonJob):
    def __init__(self, count, size, **kwargs):
        super().__init__(**kwargs)
        self.count, self.size = count, size

    def run(self):
        block = os.urandom(self.size)
        for _ in range(self.count):
            yield block


class Relay(ExecutableJob):
    EXECUTABLE = "relay"
    DEPENDENCIES = "bin"


class Sink(PythonJob):
    def setup(self):
        self.count, self.first, self.last = 0, None, 0.0

    def run(self, block):
        if self.first is None:
            self.first = time.perf_counter()
        self.count += 1
        self.last = time.perf_counter()

    def teardown(self):
        with open("result.json", "w") as handle:
            json.dump({"count": self.count, "seconds": self.last - self.first}, handle)
"""

CONFIG = """
from fission.core.pipes import BytesPipe
from exe.jobs.jobs import Blocks, Relay, Sink

Relay.PARAMETERS = "-s {size}"
JOBS = [
    Blocks({count}, {size}, outputs=[BytesPipe(1, {size})]),
    Relay(inputs=[BytesPipe(1, {size})], outputs=[BytesPipe(2, {size})]),
    Sink(inputs=[BytesPipe(2, {size})]),
]
"""


def build_relay(folder: Path) -> Path:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if not compiler:
        raise SystemExit("this benchmark builds a C program: install gcc")
    source = folder / "relay.c"
    source.write_text(RELAY_C)
    binary = folder / "relay"
    subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
    return binary


def fission_chain(relay: Path, count: int, size: int) -> dict:
    project = make_project("exe", JOBS, CONFIG.format(count=count, size=size))
    (project / "bin").mkdir()
    shutil.copy(relay, project / "bin" / "relay")
    result = run_simulate(project, "exe")
    assert result["count"] == count, result
    return result


def raw_chain(relay: Path, count: int, size: int) -> dict:
    """Python writer -> os.pipe -> relay -> os.pipe -> Python reader (exact blocks)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    program = subprocess.Popen(
        [str(relay), "-s", str(size), "-i", f"/dev/fd/{in_r}", "-o", f"/dev/fd/{out_w}"],
        pass_fds=(in_r, out_w),
    )
    os.close(in_r)
    os.close(out_w)
    writer = os.fork()
    if writer == 0:
        os.close(out_r)
        block = os.urandom(size)
        for _ in range(count):
            view = memoryview(block)
            while view:
                view = view[os.write(in_w, view) :]
        os._exit(0)
    os.close(in_w)
    received = 0
    first = last = 0.0
    pending = 0
    with os.fdopen(out_r, "rb", buffering=0) as stream:
        while received < count:
            chunk = stream.read(size - pending)
            if not chunk:
                break
            pending += len(chunk)
            if pending == size:
                pending = 0
                if not received:
                    first = time.perf_counter()
                received += 1
                last = time.perf_counter()
    os.waitpid(writer, 0)
    program.wait()
    assert received == count, (received, count)
    return {"count": received, "seconds": last - first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sizes", default="4096,65536")
    parser.add_argument("--megabytes", type=int, default=512)
    args = parser.parse_args()
    relay = build_relay(Path(tempfile.mkdtemp(prefix="fission-relay-")))
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        count = args.megabytes * 1024 * 1024 // size
        ours, raw, steal = [], [], []
        for _ in range(args.reps):
            with StolenShare() as stolen:
                mine = fission_chain(relay, count, size)
                base = raw_chain(relay, count, size)
            ours.append(count * size / mine["seconds"] / 1e6)
            raw.append(count * size / base["seconds"] / 1e6)
            steal.append(stolen.share)
        ratios = [a / b for a, b in zip(ours, raw, strict=True)]
        results[str(size)] = {
            "blocks": count,
            "fission_MBps_median": round(median(ours), 1),
            "raw_MBps_median": round(median(raw), 1),
            "ratio_median": round(median(ratios), 3),
            "fission_MBps": [round(v, 1) for v in ours],
            "raw_MBps": [round(v, 1) for v in raw],
            "ratios": [round(v, 3) for v in ratios],
            # CPU share the hypervisor gave other guests during each repetition
            "stolen": [round(v, 3) for v in steal],
        }
    print(
        json.dumps(
            {
                "benchmark": "executable_chain",
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.release()}",
                "python": platform.python_version(),
                "reps": args.reps,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""Throughput of a 3-job chain through ``simulate``, against raw os.pipe chains in the same run.

Chain: a source yields 1, 2, 3, ... as fast as it can -> a job doubling each value -> a sink
counting. Two payload kinds:

* ``ints``: PicklePipe of ints; baseline = 3 processes passing length-prefixed pickled ints over
  os.pipe in batches of 256 (no acks, no credit, no framing beyond the length);
* ``bytes``: 64 KiB BytesPipe blocks (the middle job passes them on); baseline = 3 processes
  copying the same 64 KiB blocks over os.pipe with a 4-byte length prefix.

The sink measures between its first and last block. Prints one JSON document with the medians
of ``--reps`` repetitions, each FISSION figure next to its baseline from the same repetition.
Also records the peak RSS of each job host (from /proc at the end of the run via ru_maxrss).

Usage: python bench/chain_throughput.py [--reps 3] [--items 2000000] [--blocks 40000]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _project import make_project, median, run_simulate

JOBS = """
import json, os, resource, time
from fission.core.jobs import PythonJob


class CountSource(PythonJob):
    def __init__(self, items, payload=None, **kwargs):
        super().__init__(**kwargs)
        self.items = items
        self.payload = payload

    def run(self):
        if self.payload:
            block = os.urandom(self.payload)
            for _ in range(self.items):
                yield block
        else:
            for value in range(1, self.items + 1):
                yield value


class Double(PythonJob):
    def run(self, value):
        return value * 2 if isinstance(value, int) else value


class CountSink(PythonJob):
    def setup(self):
        self.count = 0
        self.bytes = 0
        self.first = None

    def run(self, value):
        if self.first is None:
            self.first = time.perf_counter()
        self.count += 1
        if not isinstance(value, int):
            self.bytes += len(value)
        self.last = time.perf_counter()

    def teardown(self):
        elapsed = self.last - self.first
        with open("result.json", "w") as handle:
            json.dump({"count": self.count, "bytes": self.bytes, "seconds": elapsed,
                       "sink_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss},
                      handle)
"""

CONFIG = """
from fission.core.pipes import PicklePipe, BytesPipe
from chain.jobs.jobs import CountSource, Double, CountSink
{pipe_a}
JOBS = [
    CountSource({items}, {payload}, outputs=[{pipe_1}]),
    Double(inputs=[{pipe_1}], outputs=[{pipe_2}]),
    CountSink(inputs=[{pipe_2}]),
]
"""


def fission_chain(items: int, payload: int | None) -> dict:
    if payload:
        pipes = {"pipe_1": f"BytesPipe(1, {payload})", "pipe_2": f"BytesPipe(2, {payload})"}
    else:
        pipes = {"pipe_1": "PicklePipe(1)", "pipe_2": "PicklePipe(2)"}
    config = CONFIG.format(items=items, payload=payload, pipe_a="", **pipes)
    project = make_project("chain", JOBS, config)
    result = run_simulate(project, "chain")
    assert result["count"] == items, result
    return result


# -- raw baselines ---------------------------------------------------------------------------
def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            return b""
        chunks += chunk
    return bytes(chunks)


def raw_ints(items: int, batch: int = 256) -> dict:
    """3 processes: pickled ints, length-prefixed, batches of ``batch`` per write."""
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    r_r, r_w = os.pipe()
    dumps, loads = pickle.dumps, pickle.loads
    pack = struct.Struct("<I").pack
    unpack_from = struct.Struct("<I").unpack_from

    def reader(fd: int):
        buffer = b""
        while True:
            chunk = os.read(fd, 262144)
            if not chunk:
                return
            buffer += chunk
            offset = 0
            values = []
            while len(buffer) - offset >= 4:
                (length,) = unpack_from(buffer, offset)
                if len(buffer) - offset - 4 < length:
                    break
                values.append(loads(buffer[offset + 4 : offset + 4 + length]))
                offset += 4 + length
            buffer = buffer[offset:]
            yield values

    if os.fork() == 0:  # source
        parts = []
        for value in range(1, items + 1):
            data = dumps(value)
            parts.append(pack(len(data)))
            parts.append(data)
            if len(parts) >= 2 * batch:
                _write_all(a_w, b"".join(parts))
                parts = []
        _write_all(a_w, b"".join(parts))
        os._exit(0)
    if os.fork() == 0:  # middle
        os.close(a_w)
        parts = []
        for values in reader(a_r):
            for value in values:
                data = dumps(value * 2)
                parts.append(pack(len(data)))
                parts.append(data)
            _write_all(b_w, b"".join(parts))
            parts = []
        os._exit(0)
    if os.fork() == 0:  # sink
        os.close(a_w)
        os.close(b_w)
        count = 0
        first = last = 0.0
        for values in reader(b_r):
            for _value in values:
                if not count:
                    first = time.perf_counter()
                count += 1
            last = time.perf_counter()
        os.write(r_w, json.dumps({"count": count, "seconds": last - first}).encode())
        os._exit(0)
    for fd in (a_w, b_w, r_w, a_r, b_r):
        os.close(fd)
    result = json.loads(os.read(r_r, 4096))
    for _ in range(3):
        os.wait()
    os.close(r_r)
    return result


def raw_bytes(blocks: int, size: int) -> dict:
    """3 processes copying ``size``-byte blocks with a 4-byte length prefix over os.pipe."""
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    r_r, r_w = os.pipe()
    pack = struct.Struct("<I").pack
    if os.fork() == 0:
        block = os.urandom(size)
        for _ in range(blocks):
            _write_all(a_w, pack(size))
            _write_all(a_w, block)
        os._exit(0)
    if os.fork() == 0:
        os.close(a_w)
        while True:
            head = _read_exact(a_r, 4)
            if not head:
                break
            block = _read_exact(a_r, struct.unpack("<I", head)[0])
            _write_all(b_w, head)
            _write_all(b_w, block)
        os._exit(0)
    if os.fork() == 0:
        os.close(a_w)
        os.close(b_w)
        count = total = 0
        first = last = 0.0
        while True:
            head = _read_exact(b_r, 4)
            if not head:
                break
            block = _read_exact(b_r, struct.unpack("<I", head)[0])
            if not count:
                first = time.perf_counter()
            count += 1
            total += len(block)
            last = time.perf_counter()
        os.write(
            r_w, json.dumps({"count": count, "bytes": total, "seconds": last - first}).encode()
        )
        os._exit(0)
    for fd in (a_w, b_w, r_w, a_r, b_r):
        os.close(fd)
    result = json.loads(os.read(r_r, 4096))
    for _ in range(3):
        os.wait()
    os.close(r_r)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--items", type=int, default=2_000_000)
    parser.add_argument("--blocks", type=int, default=40_000)
    parser.add_argument("--size", type=int, default=64 * 1024)
    args = parser.parse_args()
    reps = []
    for _ in range(args.reps):
        base_i = raw_ints(args.items)
        fis_i = fission_chain(args.items, None)
        base_b = raw_bytes(args.blocks, args.size)
        fis_b = fission_chain(args.blocks, args.size)
        rep = {
            "ints_raw_per_s": base_i["count"] / base_i["seconds"],
            "ints_fission_per_s": fis_i["count"] / fis_i["seconds"],
            "bytes_raw_mb_s": base_b["bytes"] / base_b["seconds"] / 1e6,
            "bytes_fission_mb_s": fis_b["bytes"] / fis_b["seconds"] / 1e6,
            "sink_maxrss_kib_bytes": fis_b["sink_maxrss_kib"],
        }
        rep["ints_ratio"] = rep["ints_fission_per_s"] / rep["ints_raw_per_s"]
        rep["bytes_ratio"] = rep["bytes_fission_mb_s"] / rep["bytes_raw_mb_s"]
        reps.append(rep)
        print(json.dumps(rep), file=sys.stderr)
    summary = {
        "benchmark": "chain_throughput",
        "machine": (
            f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "items": args.items,
        "blocks": args.blocks,
        "block_size": args.size,
        "repetitions": reps,
        "median": {key: median([r[key] for r in reps]) for key in reps[0]},
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""Cross-server throughput of the 3-job chain over `run`, and time to the first block (root).

Three servers and a client are emulated with network namespaces. The source is pinned to s1,
the doubling job to s2 and the counting sink to s3 (DEFAULT_NODE), so both hops cross servers
over TCP. Two payloads: pickled ints, and 64 KiB blocks. The sink measures between its first
and last block, as in chain_throughput.py, and also over the second half of the stream alone
(steady state: once all jobs run, `run` starts a launcher actor on every server that has none,
a Ray worker start of about 1.6 s of CPU each, and on this machine all emulated servers share
2 cores).

Baseline, in the same run and between the same namespaces: three processes, one per server
namespace, passing the same items over plain TCP (length-prefixed pickled ints in batches of
256 per send; 64 KiB blocks with a 4-byte length prefix), no acks, no credit.

Also measured: the time from starting ``manage.py <net> run`` on the already running cluster
(head and servers up) to the first block at the sink (wall clock, the sink writes it).

Usage: sudo python bench/cluster_throughput.py [--items 2000000] [--blocks 40000] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fission.client.cluster import RAY_PORT, cluster_token
from fission.emulation.cluster import EmulatedCluster, ray_env
from fission.emulation.netns import EmulatedNetwork

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _project import make_project

JOBS = """
import json, os, time
from fission.core.jobs import PythonJob


class Source(PythonJob):
    DEFAULT_NODE = "s1"

    def __init__(self, items, size, **kwargs):
        super().__init__(**kwargs)
        self.items, self.size = items, size

    def run(self):
        if self.size:
            block = os.urandom(self.size)
            for _ in range(self.items):
                yield block
        else:
            yield from range(1, self.items + 1)


class Double(PythonJob):
    DEFAULT_NODE = "s2"

    def run(self, value):
        return value * 2 if isinstance(value, int) else value


class Sink(PythonJob):
    DEFAULT_NODE = "s3"

    def __init__(self, half, **kwargs):
        super().__init__(**kwargs)
        self.half = half

    def setup(self):
        self.count = self.bytes = 0
        self.first = None
        self.middle = 0.0

    def run(self, value):
        if self.first is None:
            self.first = time.perf_counter()
            with open("/tmp/fission-cluster-bench-first", "w") as handle:
                handle.write(str(time.time()))
        self.count += 1
        if not isinstance(value, int):
            self.bytes += len(value)
        self.last = time.perf_counter()
        if self.count == self.half:
            self.middle = self.last

    def teardown(self):
        with open("/tmp/fission-cluster-bench-result", "w") as handle:
            json.dump({"count": self.count, "bytes": self.bytes,
                       "seconds": self.last - self.first,
                       "second_half_seconds": self.last - self.middle}, handle)
"""

CONFIG = """
from fission.core.nodes import BaseNode
from fission.core.pipes import BytesPipe, PicklePipe
from cnet.jobs.jobs import Double, Sink, Source

CLIENT_IP = "10.213.0.1"
JOBS = [
    Source({items}, {size}, outputs=[{pipe1}]),
    Double(inputs=[{pipe1}], outputs=[{pipe2}]),
    Sink({half}, inputs=[{pipe2}]),
]
NODES = [BaseNode("s1"), BaseNode("s2"), BaseNode("s3")]
REMOTE_ROOT = "{root}"
"""

RAW = r"""
import json, os, pickle, socket, struct, sys, time
role, listen, target = sys.argv[1], sys.argv[4], sys.argv[5]
items, size = int(sys.argv[2]), int(sys.argv[3])
pack = struct.Struct("<I").pack
def serve(addr):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    host, port = addr.split(":"); s.bind((host, int(port))); s.listen(1)
    conn, _ = s.accept(); return conn
def dial(addr):
    host, port = addr.split(":")
    for _ in range(200):
        try:
            return socket.create_connection((host, int(port)))
        except OSError:
            time.sleep(0.05)
def frames(conn):
    buf = b""
    while True:
        chunk = conn.recv(262144)
        if not chunk:
            return
        buf += chunk
        off, out = 0, []
        while len(buf) - off >= 4:
            (n,) = struct.unpack_from("<I", buf, off)
            if len(buf) - off - 4 < n:
                break
            out.append(buf[off + 4: off + 4 + n]); off += 4 + n
        buf = buf[off:]
        yield out
if role == "source":
    out = dial(target)
    if size:
        block = os.urandom(size)
        for _ in range(items):
            out.sendall(pack(size) + block)
    else:
        parts = []
        for v in range(1, items + 1):
            d = pickle.dumps(v); parts += [pack(len(d)), d]
            if len(parts) >= 512:
                out.sendall(b"".join(parts)); parts = []
        out.sendall(b"".join(parts))
    out.close()
elif role == "middle":
    conn = serve(listen); out = dial(target)
    for batch in frames(conn):
        if size:
            out.sendall(b"".join(pack(len(b)) + b for b in batch))
        else:
            parts = []
            for b in batch:
                d = pickle.dumps(pickle.loads(b) * 2); parts += [pack(len(d)), d]
            out.sendall(b"".join(parts))
    out.close()
else:
    conn = serve(listen); count = total = 0; first = last = middle = 0.0
    for batch in frames(conn):
        for b in batch:
            if not count:
                first = time.perf_counter()
            count += 1; total += len(b)
            if not size:
                pickle.loads(b)
            if count == items // 2:
                middle = time.perf_counter()
        last = time.perf_counter()
    print(json.dumps({"count": count, "bytes": total, "seconds": last - first,
                      "second_half_seconds": last - middle}))
"""


def raw_chain(hosts: EmulatedNetwork, items: int, size: int, script: Path) -> dict:
    _s1, s2, s3 = (hosts.hosts[n] for n in ("s1", "s2", "s3"))
    sink = hosts.start(
        "s3",
        [sys.executable, str(script), "sink", str(items), str(size), f"{s3.address}:7002", "-"],
        stdout=subprocess.PIPE,
        text=True,
    )
    middle = hosts.start(
        "s2",
        [
            sys.executable,
            str(script),
            "middle",
            str(items),
            str(size),
            f"{s2.address}:7001",
            f"{s3.address}:7002",
        ],
    )
    time.sleep(0.3)
    source = hosts.start(
        "s1",
        [sys.executable, str(script), "source", str(items), str(size), "-", f"{s2.address}:7001"],
    )
    out, _ = sink.communicate(timeout=300)
    middle.wait(timeout=30)
    source.wait(timeout=30)
    return json.loads(out)


def fission_chain(project: Path, client, env: dict, items: int, size: int, base: Path) -> dict:
    pipes = (
        {"pipe1": f"BytesPipe(1, {size})", "pipe2": f"BytesPipe(2, {size})"}
        if size
        else {"pipe1": "PicklePipe(1)", "pipe2": "PicklePipe(2)"}
    )
    (project / "cnet" / "config.py").write_text(
        CONFIG.format(items=items, size=size, half=items // 2, root=base / "servers", **pipes)
    )
    for name in ("first", "result"):
        Path(f"/tmp/fission-cluster-bench-{name}").unlink(missing_ok=True)
    started = time.time()
    run = subprocess.run(
        client.command(
            [
                sys.executable,
                "manage.py",
                "cnet",
                "run",
                "--ray-address",
                f"{client.address}:{RAY_PORT}",
                "--wait",
                "90",
            ]
        ),
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-2000:])
    result = json.loads(Path("/tmp/fission-cluster-bench-result").read_text())
    result["first_block_s"] = float(Path("/tmp/fission-cluster-bench-first").read_text()) - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2_000_000)
    parser.add_argument("--blocks", type=int, default=40_000)
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="fc"))
    script = base / "raw.py"
    script.write_text(RAW)
    initial = CONFIG.format(
        items=1,
        size=0,
        half=0,
        root=base / "servers",
        pipe1="PicklePipe(1)",
        pipe2="PicklePipe(2)",
    )
    project = make_project("cnet", JOBS, initial, base)
    env = ray_env(cluster_token(project))
    reps = []
    with EmulatedNetwork(["client", "s1", "s2", "s3"]) as hosts:
        client = hosts.hosts["client"]
        cluster = EmulatedCluster(hosts, project / ".fission" / "token", base, env)
        cluster.start_head()
        for name in ("s1", "s2", "s3"):
            cluster.start_server(name)
        for _ in range(args.reps):
            raw_i = raw_chain(hosts, args.items, 0, script)
            fis_i = fission_chain(project, client, env, args.items, 0, base)
            raw_b = raw_chain(hosts, args.blocks, args.size, script)
            fis_b = fission_chain(project, client, env, args.blocks, args.size, base)
            rep = {
                "ints_raw_per_s": raw_i["count"] / raw_i["seconds"],
                "ints_fission_per_s": fis_i["count"] / fis_i["seconds"],
                "bytes_raw_mb_s": raw_b["bytes"] / raw_b["seconds"] / 1e6,
                "bytes_fission_mb_s": fis_b["bytes"] / fis_b["seconds"] / 1e6,
                "first_block_s": fis_i["first_block_s"],
            }
            rep["ints_ratio"] = rep["ints_fission_per_s"] / rep["ints_raw_per_s"]
            rep["bytes_ratio"] = rep["bytes_fission_mb_s"] / rep["bytes_raw_mb_s"]
            # steady state: the second half of each stream, after the start-up work (e.g. the
            # launchers `run` starts on servers without one once all jobs run)
            late_i = args.items - args.items // 2
            late_b = (args.blocks - args.blocks // 2) * args.size
            rep["ints_raw_second_half_per_s"] = late_i / raw_i["second_half_seconds"]
            rep["ints_fission_second_half_per_s"] = late_i / fis_i["second_half_seconds"]
            rep["bytes_raw_second_half_mb_s"] = late_b / raw_b["second_half_seconds"] / 1e6
            rep["bytes_fission_second_half_mb_s"] = late_b / fis_b["second_half_seconds"] / 1e6
            rep["ints_second_half_ratio"] = (
                rep["ints_fission_second_half_per_s"] / rep["ints_raw_second_half_per_s"]
            )
            rep["bytes_second_half_ratio"] = (
                rep["bytes_fission_second_half_mb_s"] / rep["bytes_raw_second_half_mb_s"]
            )
            reps.append(rep)
            print(json.dumps(rep), file=sys.stderr)
    summary = {
        "benchmark": "cluster_throughput",
        "repetitions": reps,
        "median": {k: statistics.median(r[k] for r in reps) for k in reps[0]},
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""Outage per fault on 3 emulated servers: `run` over Ray, faults injected for real (root).

The network: a counting source (with ``resume``) -> a middle job -> a second middle job -> a
sink on the client that writes ``value monotonic-time`` per block. The source and the second
middle job are pinned to s3 (DEFAULT_NODE), so the first middle job moves between s1 and s2.
For each fault, the server that currently runs it (read from the client's log, "Pass 2 ready at
tcp:<address>") is killed (every process of its namespace SIGKILLed) or cut (its link taken
down); once the job runs elsewhere, the server is brought back (restarted, or its link healed)
and once the client reports it ready to take over a job again (its launcher is up), the
next fault follows. With ``--doubles N``, N double failures follow: the server running the
first middle job and the one running the source (or, when one server runs both, it and one
more) are killed at once, so the source is lost together with its consumer and every job moves
to the one server left (each server has 3 slots then); both are brought back before the next.

Outage of a fault = time from the fault to the first block reaching the sink after it, minus
nothing: the source emits a block every 2 ms, so the normal gap is 2 ms. Lost and duplicated
blocks are counted over the whole run from the sink's file (each value must appear exactly
once, in order). The health-check settings are the config's defaults (HEARTBEAT_PERIOD 0.5 s,
HEARTBEAT_MISSES 2). A server counts as dead when Ray's health checks say so or when none of
its job hosts was heard for HEARTBEAT_PERIOD x HEARTBEAT_MISSES, whichever comes first.

With ``--load``, s3 (never faulted) is kept loaded: a busy loop runs in its namespace for the
whole benchmark, besides the source. On this 2-core machine that loop takes a whole core from
everything (the client and all servers share the machine), so outages grow; what it shows is
whether a loaded, healthy server is ever declared dead. Every "server ... is dead / unreachable"
line beyond one per fault of that server is a false death; the bar is none. The original
FISSION's and plain Ray's figures on the same kind of cluster are in BENCHMARKS.md.

Usage: sudo python bench/failover.py [--kills 10] [--cuts 10] [--doubles 0] [--load]
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fission.client.cluster import RAY_PORT, cluster_token, health_settings
from fission.emulation.cluster import EmulatedCluster, ray_env
from fission.emulation.netns import EmulatedNetwork

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _project import make_project

JOBS = """
import time
from fission.core.jobs import LocalJob, PythonJob


class Counter(PythonJob):
    DEFAULT_NODE = "s3"  # the source and the last middle job stay on s3, never faulted

    def setup(self):
        self.next = 1

    def resume(self, last_sqn):
        self.next = last_sqn + 1

    def run(self):
        while True:
            value = self.next
            self.next += 1
            yield value
            time.sleep(0.002)


class Pass(PythonJob):
    def run(self, value):
        return value


class Tail(Pass):
    DEFAULT_NODE = "s3"


class Record(LocalJob, PythonJob):
    def setup(self):
        self.out = open("received.txt", "a")

    def run(self, value):
        self.out.write(f"{value} {time.monotonic()}\\n")
        self.out.flush()
"""

CONFIG = """
from fission.core.nodes import BaseNode
from fission.core.pipes import PicklePipe
from bench_net.jobs.jobs import Counter, Pass, Record, Tail

CLIENT_IP = "10.213.0.1"
JOBS = [
    Counter(outputs=[PicklePipe(1)]),
    Pass(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    Tail(inputs=[PicklePipe(2)], outputs=[PicklePipe(3)]),
    Record(inputs=[PicklePipe(3)]),
]
NODES = [BaseNode(name, slots={slots}) for name in ("s1", "s2", "s3")]
JOB_RESTARTS = 1000
REMOTE_ROOT = "{root}"
DEBUG_WINDOW = False
"""


def where_is(log: Path, job: str, after: float, hosts: EmulatedNetwork) -> str | None:
    """The server name (s1..s3) whose address the latest 'ready at' line of ``job`` names."""
    found = None
    for line in log.read_text().splitlines():
        match = re.search(rf"{job} ready at tcp:([0-9.]+):", line)
        if match:
            found = match.group(1)
    for name, host in hosts.hosts.items():
        if host.address == found and name != "client":
            return name
    return None


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--cuts", type=int, default=10)
    parser.add_argument(
        "--doubles",
        type=int,
        default=0,
        help="double failures: kill the server running the source and Pass 2 (or both of "
        "theirs) and one more, so every job moves to the one server left (3 slots each then)",
    )
    parser.add_argument("--load", action="store_true", help="keep s3 busy (a busy loop)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="fb"))
    slots = 3 if args.doubles else 2
    project = make_project(
        "bench_net", JOBS, CONFIG.format(root=base / "servers", slots=slots), base
    )
    env = ray_env(cluster_token(project))
    faults: list[dict] = []
    with EmulatedNetwork(["client", "s1", "s2", "s3"]) as hosts:
        client = hosts.hosts["client"]
        cluster = EmulatedCluster(hosts, project / ".fission" / "token", base, env)
        cluster.start_head()
        start_server = cluster.start_server
        for name in ("s1", "s2", "s3"):
            start_server(name)
        hog = (
            subprocess.Popen(hosts.hosts["s3"].command([sys.executable, "-c", "while True: pass"]))
            if args.load
            else None
        )
        run = subprocess.Popen(
            client.command(
                [
                    sys.executable,
                    "manage.py",
                    "bench_net",
                    "run",
                    "--ray-address",
                    f"{client.address}:{RAY_PORT}",
                    "--wait",
                    "90",
                ]
            ),
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        log = project / "bench_net" / "run" / "FISSION.log"
        received = project / "bench_net" / "run" / "4" / "received.txt"
        assert wait_until(lambda: received.exists() and received.stat().st_size > 1000, 120), (
            "the network never started"
        )
        time.sleep(2)
        plan = ["kill"] * args.kills + ["cut"] * args.cuts + ["double"] * args.doubles
        for number, kind in enumerate(plan, start=1):
            victim = where_is(log, "Pass 2", 0, hosts)
            victims = [victim]
            if kind == "double":
                # the source and its consumer lost together, and one server left for all jobs
                source = where_is(log, "Counter 1", 0, hosts)
                others = [n for n in ("s1", "s2", "s3") if n not in (victim, source)]
                victims = sorted({victim, source if source != victim else others[0]})
            restarts_before = log.read_text().count("restarting Pass 2")
            text = log.read_text()
            ready_before = {v: text.count(f"{v} is ready to take over a job") for v in victims}
            at = time.monotonic()
            if kind in ("kill", "double"):
                for name in victims:
                    hosts.kill(name)
            else:
                hosts.cut(victim)
            moved = wait_until(
                lambda before=restarts_before: log.read_text().count("restarting Pass 2") > before,
                30,
            )
            dead_line = next(
                (
                    line
                    for line in reversed(log.read_text().splitlines())
                    if f"server {victim} is dead" in line
                ),
                "",
            )
            time.sleep(3)  # let the flow settle on its new server
            if kind in ("kill", "double"):
                for name in victims:
                    start_server(name)
            else:
                hosts.heal(victim)
                hosts.kill(victim)  # a healed partition: restart it clean (fenced anyway)
                start_server(victim)
            faults.append(
                {
                    "n": number,
                    "kind": kind,
                    "server": "+".join(victims),
                    "at": at,
                    "moved": moved,
                    "dead_line": dead_line,
                }
            )
            print(f"{kind} {'+'.join(victims)}: moved={moved}", file=sys.stderr)
            # a fault in steady state: the server is back, with its launcher (a fault during
            # the recovery from the last one would be a double failure)
            wait_until(
                lambda r=ready_before: all(
                    log.read_text().count(f"{v} is ready to take over a job") > count
                    for v, count in r.items()
                ),
                60,
            )
            time.sleep(0.5)
        run.send_signal(2)
        try:
            run.wait(timeout=20)
        except subprocess.TimeoutExpired:
            run.kill()
        if hog is not None:
            hog.kill()
        deaths = [
            (line, match.group(1))
            for line in log.read_text().splitlines()
            if (match := re.search(r"server (s\d) is (?:dead|unreachable)", line))
            and "already known" not in line  # the second of two notices of one death
        ]
    rows = [line.split() for line in received.read_text().splitlines() if line.strip()]
    values = [int(v) for v, _ in rows]
    times = [float(t) for _, t in rows]
    expected = list(range(1, values[-1] + 1))
    lost = len(set(expected) - set(values))
    duplicated = len(values) - len(set(values))
    in_order = values == sorted(values)
    results = []
    for number, fault in enumerate(faults):
        # blocks already downstream keep arriving for a moment: the outage is the longest
        # silence at the sink after the fault, until the next fault
        end = faults[number + 1]["at"] if number + 1 < len(faults) else fault["at"] + 15
        window = [fault["at"]] + [t for t in times if fault["at"] < t < end]
        gaps = [b - a for a, b in itertools.pairwise(window)]
        outage = max(gaps) if len(window) > 1 else None
        results.append(
            {**{k: fault[k] for k in ("n", "kind", "server", "moved")}, "outage_s": outage}
        )
    # each fault should produce exactly one death of its victim; s3 is never faulted
    faulted = collections.Counter(name for fault in faults for name in fault["server"].split("+"))
    declared = collections.Counter(server for _, server in deaths)
    false_deaths = sum(max(0, declared[name] - faulted[name]) for name in ("s1", "s2", "s3"))
    summary = {
        "benchmark": "failover",
        "health_checks": health_settings(0.5, 2),
        "silence_limit_s": 0.5 * 2,
        "loaded_healthy_server": "s3 (a busy loop in its namespace)" if args.load else None,
        "false_deaths": false_deaths,
        "death_lines": [line for line, _ in deaths],
        "faults": results,
        "blocks": len(values),
        "lost": lost,
        "duplicated": duplicated,
        "in_order": in_order,
    }
    for kind in ("kill", "cut", "double"):
        outages = [r["outage_s"] for r in results if r["kind"] == kind and r["outage_s"]]
        if outages:
            summary[f"{kind}_outage_median_s"] = statistics.median(outages)
            summary[f"{kind}_outage_max_s"] = max(outages)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

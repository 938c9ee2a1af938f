"""``manage.py <network> emulate --servers N``: rehearse `run` on servers emulated here.

Each server is a network namespace with an address this command assigns, running a real
``fission server`` (a Ray worker node); the client runs the Ray head and ``run`` in a namespace
of its own. Each emulated server takes a name from NODES, so the network runs unchanged: the plain
nodes' addresses in order, then names made up from the MultiNode patterns (``pi-{1..9}`` gives
pi-1, pi-2, ...), which the run matches as it would real servers. ``--kill NAME@SECONDS``
SIGKILLs every process of a server (s1, s2, ... or the name it takes), ``--cut NAME@SECONDS``
takes its link down, counted from the moment every job runs. Everything is removed at the end,
Ctrl+C included. Needs root (network namespaces).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from fission.cli.base import CommandContext
from fission.cli.viewoptions import view_mode, view_options
from fission.client.cluster import RAY_PORT, cluster_token
from fission.client.rundir import SUMMARY
from fission.core.errors import ConfigError, FissionError
from fission.core.loader import load_network
from fission.core.nodes import BaseNode, MultiNode, example_servers
from fission.emulation.cluster import EmulatedCluster, ray_env
from fission.emulation.netns import EmulatedNetwork, require_root

HELP = "Rehearse `run` on N servers emulated on this machine (network namespaces; root)."
SCOPE = "network"

#: The emulated hosts share one /24 subnet with the client.
MAX_SERVERS = 253

_RAY_CHATTER = re.compile(r"\(raylet\)|\.cc:\d+|^\[\d{4}-\d\d-\d\d ")
_FAULT = re.compile(r"^(?P<server>[^@]+)@(?P<seconds>[0-9.]+)$")


def _faults(values: tuple[str, ...], kind: str) -> list[tuple[str, float, str]]:
    faults = []
    for value in values:
        match = _FAULT.match(value)
        if not match:
            raise click.BadParameter(f"{value!r}: write SERVER@SECONDS, e.g. s2@5", param_hint=kind)
        faults.append((match["server"], float(match["seconds"]), kind.strip("-")))
    return faults


@click.command(help=HELP)
@click.option(
    "--servers",
    type=int,
    required=True,
    help="How many servers to emulate: the nodes of NODES, plus more for MultiNode patterns.",
)
@click.option("--kill", multiple=True, help="SERVER@SECONDS: SIGKILL that server then.")
@click.option("--cut", multiple=True, help="SERVER@SECONDS: cut that server's link then.")
@click.option(
    "--revive",
    multiple=True,
    help="SERVER@SECONDS: bring a killed server back (or heal a cut link) then.",
)
@click.option(
    "--join",
    multiple=True,
    help="SERVER@SECONDS: start that server only then (a server joining late; it must be one "
    "a MultiNode matches, as `run` waits for the others).",
)
@click.option(
    "--seconds",
    type=float,
    default=None,
    help="Stop the run this many seconds after every job runs (default: when it ends).",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=90.0,
    show_default=True,
    help="Seconds to wait for the servers to join.",
)
@view_options
@click.pass_obj
def app(
    context: CommandContext,
    servers: int,
    kill: tuple[str, ...],
    cut: tuple[str, ...],
    revive: tuple[str, ...],
    join: tuple[str, ...],
    seconds: float | None,
    wait_seconds: float,
    view: str,
    quiet: bool,
) -> int:
    require_root()
    project = context.project_dir
    network = load_network(project, context.network or "")
    if network.settings.run_problems:  # e.g. a CSV inventory in NODES that cannot be read
        raise ConfigError(network.settings.run_problems[0])
    stands_for = _server_names(network.name, network.settings.NODES, servers)
    names = [f"s{k}" for k in range(1, servers + 1)]
    as_name = dict(zip(names, stands_for, strict=True))
    # `run` does not wait for servers a MultiNode matches: told their names, it waits for them
    plain = {node.host for node in network.settings.NODES if not isinstance(node, MultiNode)}
    generated = [name for name in stands_for if name not in plain]
    faults = _faults(kill, "--kill") + _faults(cut, "--cut") + _faults(revive, "--revive")
    faults += _faults(join, "--join")
    by_node_name = {node_name: name for name, node_name in as_name.items()}
    faults = [(by_node_name.get(name, name), at, kind) for name, at, kind in faults]
    for name, _, _ in faults:
        if name not in names:
            raise FissionError(
                f"no emulated server {name!r}; they are "
                + ", ".join(f"{n} ({as_name[n]})" for n in names)
            )
    late = {name for name, _, kind in faults if kind == "join"}
    for name in sorted(late):
        if as_name[name] in plain:
            raise FissionError(
                f"--join {name}: {as_name[name]} is a plain node of NODES, which `run` waits "
                f"for before it starts; only servers a MultiNode matches can join late"
            )
    token = cluster_token(project)
    token_file = project / ".fission" / "token"
    settings = network.settings
    scratch = Path(tempfile.mkdtemp(prefix="fe"))
    hosts = EmulatedNetwork(["client", *names])
    run: subprocess.Popen[str] | None = None
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def interrupted(signum: int, frame: object) -> None:
        stop.set()
        if run is not None and run.poll() is None:
            run.send_signal(signal.SIGINT)

    for sig in previous:
        signal.signal(sig, interrupted)
    try:
        hosts.up()
        client = hosts.hosts["client"]
        click.echo(
            f"fission: emulated client {client.address}, servers "
            + ", ".join(f"{n}={hosts.hosts[n].address} (as {as_name[n]})" for n in names),
            err=True,
        )
        ray_environment = ray_env(token, settings.HEARTBEAT_PERIOD, settings.HEARTBEAT_MISSES)
        cluster = EmulatedCluster(hosts, token_file, scratch, ray_environment)
        cluster.start_head()

        def start_server(name: str) -> None:
            cluster.start_server(name, as_name[name])

        for name in names:
            if name not in late:
                start_server(name)
        expected = [n for n in names if as_name[n] in generated and n not in late]
        run = subprocess.Popen(  # stdout (the jobs' output) passes through
            client.command([
                sys.executable, str(project / "manage.py"), network.name, "run",
                "--ray-address", f"{client.address}:{RAY_PORT}",
                "--client-ip", client.address, "--wait", str(wait_seconds),
                *(f"--expect={as_name[n]}" for n in expected),
                *(["--quiet"] if quiet else ["--view", view]),
            ]),
            stderr=subprocess.PIPE, text=True, env=ray_environment,
        )  # fmt: skip
        # `run` draws its live view on this terminal and prints its own lines above it: they
        # are not echoed a second time (that would scramble the display)
        mode = view_mode(view, quiet)
        full_view = mode == "terminal" or (mode == "auto" and sys.stdout.isatty())
        report = _follow(run, hosts, faults, stop, start_server, seconds, not full_view)
        code = run.wait()
        _print_report(
            report,
            _summary(project / network.name / "run" / SUMMARY),
            as_name,
        )
        return code
    finally:
        if run is not None and run.poll() is None:
            run.kill()
        hosts.down()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _server_names(network: str, nodes: list[BaseNode], servers: int) -> list[str]:
    """The NODES name each of ``servers`` emulated servers takes (see example_servers)."""
    if servers < 1:
        raise FissionError("--servers must be at least 1")
    if servers > MAX_SERVERS:
        raise FissionError(f"--servers {servers}: emulate at most {MAX_SERVERS} servers")
    names = example_servers(nodes, servers)
    if len(names) < servers:
        raise FissionError(
            f"--servers {servers}: NODES of {network} allows at most {len(names)} server(s); "
            f"emulate fewer, or add nodes or a MultiNode whose pattern has more names"
        )
    plain = example_servers([n for n in nodes if not isinstance(n, MultiNode)], len(nodes))
    if servers < len(plain):
        raise FissionError(
            f"--servers {servers}: NODES of {network} lists {len(plain)} server(s) by address "
            f"and `run` waits for each of them; emulate at least {len(plain)}"
        )
    return names


def _follow(
    run: subprocess.Popen[str],
    hosts: EmulatedNetwork,
    faults: list[tuple[str, float, str]],
    stop: threading.Event,
    start_server: Callable[[str], None],
    seconds: float | None,
    echo: bool = True,
) -> dict[str, object]:
    """Relay the run's messages; inject the faults once every job runs; note the timings."""
    events: list[tuple[float, str]] = []
    injected: list[tuple[float, str, str]] = []
    started = threading.Event()
    # with a server joining late, a job may wait for it: then the clock starts at "PENDING"
    waits_for_joins = any(kind == "join" for _, _, kind in faults)

    def inject() -> None:
        started.wait()
        begin = time.monotonic()
        cut: set[str] = set()
        for server, at, kind in sorted(faults, key=lambda f: f[1]):
            if stop.wait(max(0.0, begin + at - time.monotonic())):
                return
            if kind == "kill":
                hosts.kill(server)
            elif kind == "cut":
                hosts.cut(server)
                cut.add(server)
            elif kind == "join":
                start_server(server)
            elif server in cut:
                hosts.heal(server)
                cut.discard(server)
            else:
                hosts.kill(server)  # whatever is left of it
                start_server(server)
            injected.append((time.monotonic(), server, kind))
            click.echo(f"fission: emulate: {kind} {server}", err=True)
        if seconds is not None and not stop.wait(max(0.0, begin + seconds - time.monotonic())):
            click.echo(f"fission: emulate: {seconds:g} s are over; stopping", err=True)
            run.send_signal(signal.SIGINT)

    threading.Thread(target=inject, daemon=True).start()
    assert run.stderr is not None
    for line in run.stderr:
        if "jobs running" in line or (waits_for_joins and " is PENDING" in line):
            started.set()  # every job runs, or waits for a server that joins late
        # Ray's own chatter (a dead raylet's log tail, C++ warnings) is dropped, ours shown;
        # without echo, the run's live view shows its own lines once every job runs
        ours = line.startswith(("fission", "Error", "  [", "[")) and not _RAY_CHATTER.search(line)
        if ours and (echo or not started.is_set() or not line.startswith("fission")):
            sys.stderr.write(line)
        events.append((time.monotonic(), line.rstrip("\n")))
    return {"events": events, "injected": injected}


def _summary(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _sink_inputs(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        link
        for job in summary.get("jobs", {}).values()
        if job.get("sink")
        for link in job.get("stats", {}).get("inputs", {}).values()
    ]


def _outage(summary: dict[str, Any], when: float, until: float) -> float | None:
    """The longest silence at a sink between a fault and the next one: what the fault cost."""
    longest = None
    for link in _sink_inputs(summary):
        for start, end in link.get("pauses", []):
            if when < end <= until:
                silence = end - max(start, when)
                longest = silence if longest is None else max(longest, silence)
    return longest


def _print_report(
    report: dict[str, object], summary: dict[str, Any], hosts: dict[str, str]
) -> None:
    """Per fault: when it was detected, the restarts, the outage at the sinks; then what the
    sinks lost or got twice (``hosts``: emulated server -> the NODES name it stands for)."""
    injected = report["injected"]
    events = report["events"]
    assert isinstance(injected, list) and isinstance(events, list)
    if not injected:
        return
    click.echo("fission: emulate report", err=True)
    faults = [(w, server, kind) for w, server, kind in injected if kind not in ("revive", "join")]
    for number, (when, server, kind) in enumerate(faults):
        until = faults[number + 1][0] if number + 1 < len(faults) else float("inf")
        detected = next(
            (
                t
                for t, line in events
                if t >= when
                and f"server {hosts.get(server, server)} " in line
                and ("is dead" in line or "is unreachable" in line)
            ),
            None,
        )
        restarted = [
            line
            for t, line in events
            if when <= t < until and ("restart" in line or "moving it" in line)
        ]
        detection = f"{detected - when:.2f} s" if detected else "not detected"
        outage = _outage(summary, when, until)
        silence = f"{outage:.2f} s" if outage is not None else "none seen"
        click.echo(
            f"  {kind} {server}: detected after {detection}; {len(restarted)} job restart(s); "
            f"outage at the sinks {silence}",
            err=True,
        )
    if not summary:
        click.echo("  (no run summary: blocks lost and duplicated are unknown)", err=True)
        return
    links = _sink_inputs(summary)
    gaps = sum(int(link.get("gaps", 0)) for link in links)
    dropped = sum(int(link.get("duplicates", 0)) for link in links)
    flagged = sum(
        int(job.get("stats", {}).get("flagged", 0))
        for job in summary.get("jobs", {}).values()
        if job.get("sink")
    )
    jobs = summary.get("jobs", {}).values()
    moved_sinks = [job["name"] for job in jobs if job.get("sink") and job["epoch"] > 1]
    click.echo(
        f"  at the sinks: {gaps} block(s) lost (gaps), {flagged} flagged after a live "
        f"source's outage, 0 duplicated ({dropped} replayed duplicate(s) dropped)",
        err=True,
    )
    if moved_sinks:
        click.echo(
            f"  restarted sinks ({', '.join(moved_sinks)}) may have re-run their last "
            f"unacknowledged rounds, and their figures cover the last instance only",
            err=True,
        )

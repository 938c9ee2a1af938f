"""``manage.py <network> run``: run the network on the servers in NODES, over Ray.

The client starts a Ray head on CLIENT_IP (token authentication on, health checks from
HEARTBEAT_PERIOD and HEARTBEAT_MISSES), waits for the servers of NODES to join (each runs
``fission server --client <CLIENT_IP>``), places the jobs, ships the project's code with the
jobs and supervises them exactly as ``simulate`` does, with failover: a job whose server dies
or whose process crashes is started again elsewhere, and nothing acknowledged is lost.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import click

from fission.cli.base import CommandContext, show_warnings
from fission.cli.viewoptions import view_mode, view_options
from fission.client.cluster import (
    RAY_PORT,
    cluster_token,
    connect,
    health_settings,
    start_head,
    stop_head,
    wait_for_servers,
)
from fission.client.mesh import link_quality
from fission.client.monitor import supervise
from fission.client.placement import CLIENT, Placer, Server
from fission.client.secret import project_secret
from fission.client.supervisor import Simulation
from fission.core.dependencies import dependencies_of, outside_modules
from fission.core.errors import ConfigError, FissionError
from fission.core.loader import load_network
from fission.core.network import Network
from fission.core.nodes import MultiNode, expand_nodes

HELP = "Run the network on the servers in NODES (Ray), with failover."
SCOPE = "network"


def check_for_run(network: Network) -> None:
    settings = network.settings
    if settings.run_problems:
        raise ConfigError(settings.run_problems[0])
    if not settings.CLIENT_IP:
        raise ConfigError(
            f"{settings.config_file}: CLIENT_IP is empty; `run` needs this machine's address as "
            f"the servers see it"
        )
    if not settings.NODES:
        raise ConfigError(f"{settings.config_file}: NODES is empty; list the servers to run on")
    project_dir = network.network_dir.parent if network.network_dir else Path.cwd()
    for job in network.jobs:
        if job.is_local:
            continue
        for folder in dependencies_of(job).folders:
            if not (project_dir / folder).resolve().is_relative_to(project_dir.resolve()):
                raise ConfigError(
                    f"{job.declared_at}: {job.name}: DEPENDENCIES folder {folder!r} is outside "
                    f"the project; `run` ships the project folder to the servers, so move it "
                    f"into {project_dir}"
                )


def shipped_modules(network: Network) -> list[ModuleType]:
    """Modules in DEPENDENCIES from outside the project: shipped besides the project."""
    project_dir = network.network_dir.parent if network.network_dir else Path.cwd()
    found: dict[str, ModuleType] = {}
    for job in network.jobs:
        for module in outside_modules(job, project_dir):
            found[module.__name__] = module
    return list(found.values())


@click.command(help=HELP)
@click.option(
    "--ray-address",
    default=None,
    help="Use a Ray head that is already running (host:port) instead of starting one.",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds to wait for the servers in NODES to join.",
)
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run folder on this machine (default: <network>/run/).",
)
@click.option("--client-ip", default=None, help="Use this address instead of CLIENT_IP.")
@click.option(
    "--expect",
    multiple=True,
    metavar="NAME",
    help="Wait for this server too (one a MultiNode matches; those are not waited for).",
)
@view_options
@click.pass_obj
def app(
    context: CommandContext,
    ray_address: str | None,
    wait_seconds: float,
    folder: Path | None,
    client_ip: str | None,
    expect: tuple[str, ...],
    view: str,
    quiet: bool,
) -> int:
    # Ray reads its token settings when it is imported: set them first.
    token = cluster_token(context.project_dir)
    os.environ.update(
        {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    )
    try:
        import ray  # noqa: F401
    except ImportError:
        raise FissionError(
            "`run` needs Ray: install the cluster extra, pip install 'fission-streams[cluster]'"
        ) from None
    network = load_network(context.project_dir, context.network or "")
    if client_ip:
        network.settings.values["CLIENT_IP"] = client_ip
    show_warnings(network)
    check_for_run(network)
    patterns = [node for node in network.settings.NODES if isinstance(node, MultiNode)]
    for name in expect:
        if not any(node.matches(name) for node in patterns):
            raise ConfigError(
                f"--expect {name}: no MultiNode in NODES of {network.name} matches it, so it "
                f"would get no jobs"
            )
    return run_network(
        context.project_dir,
        network,
        ray_address,
        wait_seconds,
        folder,
        view_mode(view, quiet),
        expect,
    )


def run_network(
    project_dir: Path,
    network: Network,
    ray_address: str | None,
    wait_seconds: float,
    folder: Path | None,
    view: str = "auto",
    expect: Sequence[str] = (),
) -> int:
    """Start (or join) the cluster, wait for the servers (NODES' plain nodes and ``expect``),
    run the network; the exit code."""
    from fission.backends.ray import RayBackend

    settings = network.settings
    env = dict(os.environ, **health_settings(settings.HEARTBEAT_PERIOD, settings.HEARTBEAT_MISSES))
    started_head = ray_address is None
    if started_head:
        click.echo(f"fission: starting the Ray head on {settings.CLIENT_IP}:{RAY_PORT}", err=True)
        start_head(settings.CLIENT_IP, env)
        ray_address = f"{settings.CLIENT_IP}:{RAY_PORT}"
    try:
        connect(str(ray_address), project_dir, shipped_modules(network))
        patterns = [node for node in settings.NODES if isinstance(node, MultiNode)]
        names = [node.host for node in settings.NODES if not isinstance(node, MultiNode)]
        names += [name for name in expect if name not in names]
        joined = wait_for_servers(
            names,
            wait_seconds,
            lambda line: click.echo(f"fission: {line}", err=True),
            wanted=lambda name: any(node.matches(name) for node in patterns),
        )
        missing = [name for name in names if name not in joined]
        if missing:
            raise FissionError(
                f"server(s) {', '.join(missing)} did not join within {wait_seconds:.0f} s; on "
                f"each, run: fission server --client {settings.CLIENT_IP} --address <its address> "
                f"(with the project's .fission/token in ~/.fission/token)"
            )
        servers = {
            node.host: Server.from_node(node) for node in expand_nodes(settings.NODES, joined)
        }
        for server in servers.values():
            server.alive = True
        servers[CLIENT] = Server(CLIENT, slots=1000, groups=["LOCAL"], alive=True)
        placer = Placer(servers)
        placer.set_link_quality(link_quality())  # {} unless this client is on a batman-adv mesh
        run_name = time.strftime("run-%Y%m%d-%H%M%S")
        backend = RayBackend(
            settings.CLIENT_IP,
            placer.where,
            settings.REMOTE_ROOT,
            run_name,
            network.name,
            heartbeat=settings.HEARTBEAT_PERIOD,
            misses=settings.HEARTBEAT_MISSES,
        )
        if settings.PRE_COPY:
            # every server receives the project now, with its launcher, instead of when a
            # job first lands on it
            backend.start_launchers([name for name in servers if name != CLIENT])
        run_folder = (folder or project_dir / network.name / "run").resolve()
        detection = settings.HEARTBEAT_PERIOD * settings.HEARTBEAT_MISSES
        supervisor = Simulation(
            network,
            run_folder,
            project_secret(project_dir),
            restarts=settings.JOB_RESTARTS,
            backend=backend,
            placer=placer,
            fence_after=max(3.0, 4 * detection),
            heartbeat=settings.HEARTBEAT_PERIOD,
            silence_limit=detection,
        )
        return supervise(supervisor, view)
    finally:
        import ray

        ray.shutdown()
        if started_head:
            stop_head(env)

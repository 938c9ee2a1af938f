"""``manage.py <network> simulate``: run the whole network on this machine."""

from __future__ import annotations

from pathlib import Path

import click

from fission.cli.base import CommandContext, show_warnings
from fission.cli.viewoptions import view_mode, view_options
from fission.client.monitor import supervise
from fission.client.secret import project_secret
from fission.client.supervisor import Simulation
from fission.core.errors import ConfigError
from fission.core.loader import load_network

HELP = "Run the network on this machine, one process per job (no servers needed)."
SCOPE = "network"


@click.command(help=HELP)
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run folder (default: <network>/simulation/, recreated on each run).",
)
@click.option(
    "--debug-window/--no-debug-window",
    default=None,
    help="Show the jobs' output on this terminal (default: the config's DEBUG_WINDOW).",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Restart jobs that fail or die, up to JOB_RESTARTS times, with failover: blocks not "
    "yet acknowledged are replayed and duplicates dropped (a restarted sink may re-run its "
    "last unacknowledged rounds).",
)
@view_options
@click.pass_obj
def app(
    context: CommandContext,
    folder: Path | None,
    debug_window: bool | None,
    restart: bool,
    view: str,
    quiet: bool,
) -> int:
    network = load_network(context.project_dir, context.network or "")
    show_warnings(network)
    if debug_window is not None:
        network.settings.values["DEBUG_WINDOW"] = debug_window
    run_folder = (folder or context.network_dir / "simulation").resolve()
    secret = project_secret(context.project_dir)
    click.echo(
        f"fission: simulating {network.name}: {len(network.jobs)} jobs, "
        f"{len(network.connections)} pipes; run folder {run_folder} (Ctrl+C stops)",
        err=True,
    )
    restarts = None
    if restart:
        if network.settings.problem("JOB_RESTARTS"):
            message = next(p for p in network.settings.run_problems if "JOB_RESTARTS" in p)
            raise ConfigError(message)
        restarts = network.settings.JOB_RESTARTS
    simulation = Simulation(network, run_folder, secret, restarts=restarts)
    return supervise(simulation, view_mode(view, quiet))

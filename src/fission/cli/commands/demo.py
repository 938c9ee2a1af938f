"""``fission demo``: create a project with the tutorial's network and simulate it."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import click

from fission.cli.base import CommandContext
from fission.cli.scaffold import render
from fission.cli.viewoptions import view_mode, view_options
from fission.client.monitor import supervise
from fission.client.secret import project_secret
from fission.client.supervisor import Simulation
from fission.core.errors import ProjectError
from fission.core.loader import load_network

HELP = "Create ./fission-demo with the tutorial network and run it with simulate."
SCOPE = "project"
NETWORK = "demo_network_v1"


@click.command(help=HELP)
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("fission-demo"),
    show_default=True,
    help="Project folder to use.",
)
@click.option(
    "--seconds",
    type=float,
    default=None,
    help="Stop after this many seconds (default: run until Ctrl+C).",
)
@view_options
@click.pass_obj
def app(
    context: CommandContext, folder: Path, seconds: float | None, view: str, quiet: bool
) -> int:
    project = (context.project_dir / folder).resolve()
    if not project.exists():
        render("project", project, {"project": project.name})
        (project / "manage.py").chmod(0o755)
    elif not (project / "manage.py").is_file():
        raise ProjectError(f"{project} exists but is not a FISSION project; pick another --folder")
    if not (project / NETWORK).exists():
        render("demo", project / NETWORK, {"network": NETWORK})
    click.echo(f"fission: demo project in {project}; the same run by hand:", err=True)
    click.echo(f"  cd {project} && python3 manage.py {NETWORK} simulate", err=True)
    network = load_network(project, NETWORK)
    if seconds is not None:
        timer = threading.Timer(seconds, os.kill, args=(os.getpid(), signal.SIGINT))
        timer.daemon = True
        timer.start()
    simulation = Simulation(network, project / NETWORK / "simulation", project_secret(project))
    return supervise(simulation, view_mode(view, quiet))

"""``manage.py <network> interactive``: a Python console with the loaded network.

IPython is used when it is installed and the console is a terminal; otherwise (``--plain``,
or commands piped in) Python's standard console.
"""

from __future__ import annotations

import code
import importlib.util
import sys
from typing import Any

import click

from fission.cli.base import CommandContext, show_warnings
from fission.core.loader import load_network
from fission.core.network import Network

HELP = "Open a Python console with the network, its jobs, pipes, nodes and settings loaded."
SCOPE = "network"


def _short(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def namespace(network: Network) -> dict[str, Any]:
    """What the console starts with."""
    return {
        "network": network,
        "jobs": list(network.jobs),
        "pipes": {pipe_id: c.pipe for pipe_id, c in sorted(network.connections.items())},
        "nodes": list(network.settings.NODES),
        "settings": network.settings,
        "job": network.job,
    }


def banner(network: Network) -> str:
    settings = network.settings
    jobs = [job.name for job in network.jobs]
    pipes = [repr(c.pipe) for _, c in sorted(network.connections.items())]
    nodes = [repr(node) for node in settings.NODES]
    return "\n".join(
        [
            f"FISSION network {network.name} ({settings.config_file}), Python "
            f"{sys.version.split()[0]}",
            "  network   the validated network; network.graph is its networkx graph",
            f"  jobs      {len(jobs)}: {_short(jobs) or '-'}",
            f"  job(n)    job number n, e.g. job(1) is {jobs[0] if jobs else '-'}",
            f"  pipes     {{id: pipe}}, {len(pipes)}: {_short(pipes) or '-'}",
            f"  nodes     {len(nodes)}: {_short(nodes) or '-'}",
            f"  settings  e.g. settings.CLIENT_IP = {settings.CLIENT_IP!r}, "
            f"settings.LOG_LEVEL = {settings.LOG_LEVEL!r}",
            "Ctrl+D (or exit()) leaves.",
        ]
    )


@click.command(help=HELP)
@click.option(
    "--plain", is_flag=True, help="Use Python's standard console even if IPython is installed."
)
@click.pass_obj
def app(context: CommandContext, plain: bool) -> int:
    network = load_network(context.project_dir, context.network or "")
    show_warnings(network)
    names = namespace(network)
    text = banner(network)
    if not plain and sys.stdin.isatty() and importlib.util.find_spec("IPython") is not None:
        from IPython import start_ipython
        from traitlets.config import Config

        config = Config()
        config.TerminalInteractiveShell.banner2 = text + "\n"
        start_ipython(argv=[], user_ns=names, config=config)
        return 0
    code.InteractiveConsole(names).interact(banner=text, exitmsg="")
    return 0

"""``manage.py <network> startnetwork``: create a network inside the project."""

from __future__ import annotations

import click

from fission.cli.base import CommandContext
from fission.cli.scaffold import render, validate_name

HELP = "Create a network: config.py, jobs/, nodes/, pipes/, source/."
SCOPE = "new-network"


@click.command(help=HELP)
@click.pass_obj
def app(context: CommandContext) -> None:
    network = context.network
    assert network is not None
    validate_name(network, "network", context.project_dir)
    target = context.network_dir
    render("network", target, {"network": network})
    print(f"Created network {network} in {target}")
    print(f"Next: write its jobs and config.py, then: python3 manage.py {network} simulate")

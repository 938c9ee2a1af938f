"""``manage.py <network> graphviz``: write the job graph as dot and png into the network folder
(the original FISSION's command of that name)."""

from __future__ import annotations

import click

from fission.cli.base import CommandContext, show_warnings
from fission.cli.graph import draw, placement_of, placement_option, save
from fission.core.loader import load_network

HELP = "Write the job graph to <network>/graph.dot and <network>/graph.png."
SCOPE = "network"


@click.command(help=HELP)
@placement_option
@click.pass_obj
def app(context: CommandContext, placement: str | None) -> int:
    network = load_network(context.project_dir, context.network or "")
    show_warnings(network)
    where = placement_of(network, placement)
    for output_format in ("dot", "png"):
        target = context.network_dir / f"graph.{output_format}"
        save(draw(network, output_format, where), target)
        click.echo(f"fission: wrote {target}", err=True)
    return 0

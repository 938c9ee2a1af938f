"""``manage.py <network> visualize``: the job graph as mermaid, dot, svg or png."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fission.cli.base import CommandContext, show_warnings
from fission.cli.graph import FORMATS, IMAGE_FORMATS, draw, placement_of, placement_option, save
from fission.core.loader import load_network

HELP = "Draw the job graph (pipe ids on the edges) as mermaid, dot, svg or png."
SCOPE = "network"


@click.command(help=HELP)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="png",
    show_default=True,
    help="mermaid and dot are text; svg and png are drawn by Graphviz's dot program.",
)
@placement_option
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default=None,
    help="File to write, '-' for stdout (default: stdout for mermaid and dot, "
    "<network>/graph.<format> for svg and png).",
)
@click.pass_obj
def app(
    context: CommandContext, output_format: str, placement: str | None, output: Path | None
) -> int:
    network = load_network(context.project_dir, context.network or "")
    show_warnings(network)
    where = placement_of(network, placement)
    if output is None and output_format in IMAGE_FORMATS:
        output = context.network_dir / f"graph.{output_format}"
    if output is None or str(output) == "-":
        if output_format in IMAGE_FORMATS and sys.stdout.isatty():
            raise click.UsageError(f"{output_format} is binary: give --output FILE")
        data = draw(network, output_format, where)
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    save(draw(network, output_format, where), output)
    click.echo(f"fission: wrote the graph of {network.name} to {output.resolve()}", err=True)
    return 0

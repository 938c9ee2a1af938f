"""``manage.py <network> show``: draw the job graph and say where the picture is.

FISSION usually runs over SSH without a screen, so a viewer is only started when asked
(``--open``) and a display exists; otherwise the path is what matters.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import click

from fission.cli.base import CommandContext, show_warnings
from fission.cli.graph import IMAGE_FORMATS, draw, placement_of, placement_option, save
from fission.core.loader import load_network

HELP = "Draw the job graph to <network>/graph.png and print where it is (--open shows it)."
SCOPE = "network"


@click.command(help=HELP)
@placement_option
@click.option(
    "--format",
    "image_format",
    type=click.Choice(IMAGE_FORMATS),
    default="png",
    show_default=True,
    help="Picture format.",
)
@click.option(
    "--open",
    "open_viewer",
    is_flag=True,
    help="Also open the picture with xdg-open, if this machine has a display.",
)
@click.pass_obj
def app(
    context: CommandContext, placement: str | None, image_format: str, open_viewer: bool
) -> int:
    network = load_network(context.project_dir, context.network or "")
    show_warnings(network)
    target = context.network_dir / f"graph.{image_format}"
    save(draw(network, image_format, placement_of(network, placement)), target)
    click.echo(str(target))
    if not open_viewer:
        return 0
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        click.echo(
            "fission: no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so nothing "
            "was opened; copy the file to a machine with a screen, e.g. with scp",
            err=True,
        )
        return 0
    viewer = shutil.which("xdg-open")
    if viewer is None:
        click.echo(
            "fission: xdg-open is not installed, so nothing was opened; open the file with "
            "your image viewer (Debian: sudo apt-get install xdg-utils)",
            err=True,
        )
        return 0
    subprocess.Popen(
        [viewer, str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return 0

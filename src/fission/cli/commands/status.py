"""``manage.py <network> status [--json] [--watch]``: the directory of a running network.

Reads what the network's client (``simulate`` or ``run``, in another shell) serves on the status
socket of its run folder: ``<network>/simulation/`` or ``<network>/run/``, or ``--folder``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from fission.cli.base import CommandContext
from fission.client.statusserver import NotRunning, read_status

HELP = "Show which job runs where, in which state, and how data flows (of a running network)."
SCOPE = "network"

#: Seconds between two readings with --watch.
WATCH_EVERY = 1.0


@click.command(help=HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the directory as JSON (schema 1).")
@click.option(
    "--watch",
    is_flag=True,
    help="Read it again every second until the network ends or Ctrl+C (with --json: one "
    "document per line).",
)
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The run folder the network runs in, if not <network>/simulation/ or <network>/run/.",
)
@click.pass_obj
def app(context: CommandContext, as_json: bool, watch: bool, folder: Path | None) -> int:
    defaults = [context.network_dir / "simulation", context.network_dir / "run"]
    folders = [folder] if folder else defaults
    document, found_in = _read_any(context.network or "", folders)
    if not watch:
        _print(document, as_json)
        return 0
    try:
        if not as_json and sys.stdout.isatty():
            _watch_live(document, found_in)
        else:
            while True:
                _print(document, as_json, one_line=True)
                time.sleep(WATCH_EVERY)
                document = read_status(found_in)
    except NotRunning:
        click.echo(f"fission: {context.network} is no longer running", err=True)
    except KeyboardInterrupt:
        pass
    return 0


def _read_any(network: str, folders: list[Path]) -> tuple[dict[str, Any], Path]:
    """The document of the first folder whose client answers (the newest run if several do)."""
    found: list[tuple[dict[str, Any], Path]] = []
    for folder in folders:
        try:
            found.append((read_status(folder), folder))
        except NotRunning:
            continue
    if not found:
        where = " or ".join(str(f) for f in folders)
        raise NotRunning(
            f"network {network} is not running (no simulate or run answers in {where}); "
            f"start it with: python3 manage.py {network} simulate"
        )
    return max(found, key=lambda item: item[0]["started"])


def _print(document: dict[str, Any], as_json: bool, one_line: bool = False) -> None:
    if as_json:
        click.echo(
            json.dumps(document, separators=(",", ":"))
            if one_line
            else json.dumps(document, indent=2)
        )
        return
    from rich.console import Console

    from fission.client.liveview import render

    Console(soft_wrap=True).print(render(document, height=10_000, fit=False))


def _watch_live(document: dict[str, Any], folder: Path) -> None:
    from rich.console import Console
    from rich.live import Live

    from fission.client.liveview import render

    console = Console()
    with Live(console=console, auto_refresh=False) as live:
        while True:
            live.update(render(document, height=console.size.height), refresh=True)
            time.sleep(WATCH_EVERY)
            document = read_status(folder)

"""``manage.py <network> collect``: the latest run's logs, by server, in <network>/collection/."""

from __future__ import annotations

from pathlib import Path

import click

from fission.cli.base import CommandContext
from fission.client.collection import collect
from fission.client.joblogs import default_run_folders, latest_run, no_run
from fission.client.placement import CLIENT
from fission.core.errors import FissionError, ProjectError
from fission.core.loader import load_network
from fission.core.settings import Settings

HELP = "Gather the latest run's logs into <network>/collection/<server>/, by server."
SCOPE = "network"


@click.command(
    help=HELP + "\n\nJob output on servers reaches the client while the job runs, so the "
    "logs are taken from the run folder and split by the server each instance of a job ran "
    "on. Files a job wrote into its working folder on a server stay there."
)
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run folder to collect (default: the newer of <network>/simulation/ and <network>/run/).",
)
@click.pass_obj
def app(context: CommandContext, folder: Path | None) -> int:
    try:
        settings: Settings | None = load_network(
            context.project_dir, context.network or ""
        ).settings
    except FissionError as exc:  # the run happened; a config changed since must not stop this
        click.echo(
            f"fission: warning: {exc} (the client's log is looked for as FISSION.log)", err=True
        )
        settings = None
    candidates = [folder] if folder is not None else default_run_folders(context.network_dir)
    run = latest_run(candidates)
    if run is None:
        raise ProjectError(
            f"nothing to collect: {no_run(candidates)}; run the network first "
            f"(python3 manage.py {context.network} run), or give --folder"
        )
    target = context.network_dir / "collection"
    client_log = settings.log_path(run) if settings is not None else run / "FISSION.log"
    collected = collect(run, target, client_log)
    count = sum(len(files) for files in collected.files.values())
    click.echo(f"fission: collected {count} job log(s) of the run in {run} into {target}", err=True)
    for server, files in sorted(collected.files.items()):
        click.echo(f"  {server}/: {', '.join(f.name for f in files)}", err=True)
    if any(server not in ("local", CLIENT) for server in collected.files):
        click.echo(
            f"fission: files the jobs wrote into their working folders on the servers "
            f"({settings.REMOTE_ROOT if settings else 'REMOTE_ROOT'}run-<date>-<time>/) were not "
            f"collected",
            err=True,
        )
    return 0

"""``manage.py <network> logs [JOB] [-f]``: the jobs' logs of the latest run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from fission.cli.base import CommandContext
from fission.client.joblogs import (
    LogFollower,
    default_run_folders,
    latest_run,
    merged_lines,
    no_run,
    select_jobs,
)
from fission.client.rundir import read_info
from fission.core.errors import ProjectError

HELP = "Show the jobs' logs of the latest run (one job, or all merged by time); -f follows."
SCOPE = "network"

#: Seconds between two looks at the log files while following.
POLL = 0.2


@click.command(
    help=HELP + "\n\nJOB is a job's id (4) or class name (JoinJob: every job of that class). "
    "Each line starts with the time it was written and a mark: a space for stdout, ! for "
    "stderr, # for FISSION's notes."
)
@click.argument("job", required=False)
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep showing new lines until Ctrl+C, also from the next run when one starts.",
)
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Run folder to read (default: the newer of <network>/simulation/ and <network>/run/).",
)
@click.pass_obj
def app(context: CommandContext, job: str | None, follow: bool, folder: Path | None) -> int:
    candidates = [folder] if folder is not None else default_run_folders(context.network_dir)
    if follow:
        return _follow(LogFollower(candidates, job), candidates)
    run = latest_run(candidates)
    if run is None:
        raise ProjectError(
            f"no run to show: {no_run(candidates)}; run the network first "
            f"(python3 manage.py {context.network} simulate), or give --folder"
        )
    info = read_info(run)
    for line in merged_lines(run, select_jobs(info, job)):
        click.echo(line)
    return 0


def _follow(follower: LogFollower, candidates: list[Path]) -> int:
    waiting = True
    try:
        while True:
            lines, notices = follower.poll()
            if waiting and follower.folder is None:
                waiting = False
                click.echo(
                    f"fission: no run yet in {' or '.join(map(str, candidates))}; waiting for "
                    f"one (Ctrl+C stops)",
                    err=True,
                )
            for notice in notices:
                click.echo(notice, err=True)
            for line in lines:
                click.echo(line)
            if lines:
                sys.stdout.flush()
            time.sleep(POLL)
    except KeyboardInterrupt:
        return 0

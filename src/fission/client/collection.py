"""The collection: a run's logs sorted by the server they came from (``<network>/collection/``).

What the servers hold: a job host on a server sends every line its job prints to the client
as it is printed (:mod:`fission.runtime.remote`), and the client writes it into the job's
``job.log`` in the run folder; the server keeps only the job's working folder, holding
whatever files the job itself wrote there. So the logs are gathered from the run folder:
each job's ``job.log`` is split at FISSION's notes ``epoch N runs on SERVER`` (written when an
instance starts, see :func:`fission.client.rundir.note_server`), and every part goes to the
folder of its server. A job that moved appears under every server it ran on.

Layout::

    collection/
      .fission-collection    marks the folder as one that the next collect may empty
      info.txt               the run's info.txt (jobs, and where each instance ran)
      FISSION.log            the client's log
      <server>/<id>-<Class>.log
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from fission.client.rundir import INFO, JOB_LOG, RunInfo, read_info
from fission.core.errors import ProjectError

__all__ = ["MARKER", "UNKNOWN_SERVER", "Collected", "collect"]

MARKER = ".fission-collection"
#: The folder for lines of a job whose server the run folder does not name (an older run).
UNKNOWN_SERVER = "unknown-server"

_NOTE = re.compile(r"^\d\d:\d\d:\d\d# epoch (\d+) runs on (\S+)$")


@dataclass
class Collected:
    """What one collect gathered."""

    target: Path
    #: server -> the log files written for it
    files: dict[str, list[Path]] = field(default_factory=dict)


def _prepare(target: Path) -> None:
    if target.exists():
        if any(target.iterdir()) and not (target / MARKER).exists():
            raise ProjectError(
                f"{target} exists and was not made by collect; refusing to empty it. Move it "
                f"away, or remove it yourself"
            )
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / MARKER).write_text("This folder is recreated by every `collect`.\n")


def _split(log: str, first_server: str) -> dict[str, list[str]]:
    """The lines of one job log by the server of the instance that was running."""
    parts: dict[str, list[str]] = {}
    server = first_server
    for line in log.splitlines():
        note = _NOTE.match(line)
        if note:
            server = note[2]
        parts.setdefault(server, []).append(line)
    return parts


def collect(run_folder: Path, target: Path, client_log: Path | None = None) -> Collected:
    """Gather the logs of the run in ``run_folder`` into ``target`` (emptied first), with
    the client's log ``client_log`` if it exists."""
    info: RunInfo = read_info(run_folder)
    _prepare(target)
    shutil.copy2(run_folder / INFO, target / INFO)
    if client_log is not None and client_log.is_file():
        shutil.copy2(client_log, target / client_log.name)
    collected = Collected(target)
    for job in sorted(info.jobs.values(), key=lambda j: j.id):
        try:
            log = (run_folder / str(job.id) / JOB_LOG).read_text(errors="replace")
        except OSError:
            continue  # the job never started
        instances = info.servers.get(job.id, [])
        first = instances[0][1] if instances else UNKNOWN_SERVER
        for server, lines in _split(log, first).items():
            folder = target / server.replace("/", "_")
            folder.mkdir(exist_ok=True)
            path = folder / f"{job.id}-{job.kind}.log"
            path.write_text("\n".join(lines) + "\n")
            collected.files.setdefault(server, []).append(path)
    return collected

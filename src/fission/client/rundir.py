"""The run folder: ``<network>/simulation/`` (or the run's folder on the client).

Recreated on every run. It holds one working folder per job, named by job id, with that job's
log (``job.log``: its stdout, stderr and traceback), ``info.txt`` mapping ids to jobs, and the
client's own log (``LOG_FILE``).

``info.txt`` is read back by ``logs`` and ``collect`` (:func:`read_info`): one line per job,
then one line appended each time a job instance starts, naming its server
(:func:`note_server`), so a job that moved is found under every server it ran on.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from fission.core.errors import ProjectError
from fission.core.network import Network

__all__ = [
    "INFO",
    "JOB_LOG",
    "MARKER",
    "SUMMARY",
    "RunInfo",
    "RunJob",
    "note_server",
    "prepare_run_folder",
    "read_info",
]

JOB_LOG = "job.log"
#: How each job ended (written when the run ends; see Simulation._write_summary).
SUMMARY = "summary.json"
#: Marks a folder as a run folder that a later run may empty.
MARKER = ".fission-run"
#: The run's description: the jobs, then where each instance of a job ran.
INFO = "info.txt"

_JOB_LINE = re.compile(r"^\s*(\d+)  (\S+)( \(local\))?  inputs: ")
_SERVER_LINE = re.compile(r"^job (\d+) epoch (\d+) runs on (\S+)$")


def prepare_run_folder(network: Network, folder: Path, owned: bool = False) -> None:
    """Empty ``folder`` and lay out one sub-folder per job plus ``info.txt``.

    Unless ``owned`` (the network's own ``simulation/``), only a folder FISSION made (it holds
    the ``MARKER`` file) or an empty one is ever emptied: a mistyped ``--folder`` must not
    erase someone's data.
    """
    if folder.exists():
        if not owned and any(folder.iterdir()) and not (folder / MARKER).exists():
            raise ProjectError(
                f"{folder} exists and is not a FISSION run folder; refusing to empty it. "
                f"Choose another --folder, or remove the folder yourself"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("This folder is recreated by every FISSION run.\n")
    width = len(str(len(network.jobs)))
    lines = [f"Network {network.name}: {len(network.jobs)} jobs, {len(network.connections)} pipes"]
    for job in network.jobs:
        (folder / str(job.id)).mkdir()
        ins = ", ".join(str(p.id) for p in job.inputs) or "-"
        outs = ", ".join(str(p.id) for p in job.outputs) or "-"
        kind = " (local)" if job.is_local else ""
        lines.append(
            f"{job.id:>{width}}  {type(job).__name__}{kind}  inputs: {ins}  outputs: {outs}  "
            f"declared at {job.declared_at}"
        )
    (folder / INFO).write_text("\n".join(lines) + "\n")


def note_server(folder: Path, job_id: int, epoch: int, server: str) -> None:
    """Record in ``info.txt`` that instance ``epoch`` of job ``job_id`` started on ``server``."""
    with (folder / INFO).open("a") as info:
        info.write(f"job {job_id} epoch {epoch} runs on {server}\n")


@dataclass(frozen=True)
class RunJob:
    """One job of a run, as its run folder describes it."""

    id: int
    kind: str  #: the job's class name
    local: bool

    @property
    def name(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class RunInfo:
    """What ``info.txt`` says about a run: its jobs and the servers their instances ran on."""

    network: str
    jobs: dict[int, RunJob]
    #: job id -> [(epoch, server), ...] in the order the instances started
    servers: dict[int, list[tuple[int, str]]] = field(default_factory=dict)

    def where(self) -> dict[int, str]:
        """job id -> the server of its latest instance (jobs that never started are left out)."""
        return {job_id: started[-1][1] for job_id, started in self.servers.items() if started}


def read_info(folder: Path) -> RunInfo:
    """Read ``folder/info.txt``; a folder without one is not a run folder (ProjectError)."""
    path = folder / INFO
    try:
        lines = path.read_text().splitlines()
    except OSError:
        raise ProjectError(
            f"{folder} is not a run folder (it has no {INFO}); run the network first, or give "
            f"the run folder with --folder"
        ) from None
    network = lines[0].split(":")[0].removeprefix("Network ") if lines else ""
    jobs: dict[int, RunJob] = {}
    servers: dict[int, list[tuple[int, str]]] = {}
    for line in lines[1:]:
        placed = _SERVER_LINE.match(line)
        if placed:
            job_id, epoch, server = int(placed[1]), int(placed[2]), placed[3]
            servers.setdefault(job_id, []).append((epoch, server))
            continue
        described = _JOB_LINE.match(line)
        if described:
            job_id = int(described[1])
            jobs[job_id] = RunJob(job_id, described[2], bool(described[3]))
    return RunInfo(network, jobs, servers)

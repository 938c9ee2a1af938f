"""The run folder: ``<network>/simulation/`` (or the run's folder on the client).

Recreated on every run. It holds one working folder per job, named by job id, with that job's
log (``job.log``: its stdout, stderr and traceback), ``info.txt`` mapping ids to jobs, and the
client's own log (``LOG_FILE``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fission.core.errors import ProjectError
from fission.core.network import Network

__all__ = ["JOB_LOG", "MARKER", "SUMMARY", "prepare_run_folder"]

JOB_LOG = "job.log"
#: How each job ended (written when the run ends; see Simulation._write_summary).
SUMMARY = "summary.json"
#: Marks a folder as a run folder that a later run may empty.
MARKER = ".fission-run"


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
    (folder / "info.txt").write_text("\n".join(lines) + "\n")

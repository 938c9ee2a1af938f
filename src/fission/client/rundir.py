"""The run folder: ``<network>/simulation/`` (or the run's folder on the client).

Recreated on every run. It holds one working folder per job, named by job id, with that job's
log (``job.log``: its stdout, stderr and traceback), ``info.txt`` mapping ids to jobs, and the
client's own log (``LOG_FILE``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fission.core.network import Network

__all__ = ["JOB_LOG", "prepare_run_folder"]

JOB_LOG = "job.log"


def prepare_run_folder(network: Network, folder: Path) -> None:
    """Empty ``folder`` and lay out one sub-folder per job plus ``info.txt``."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
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

"""A job host started on a server: ``python -m fission.runtime.remote`` (by the Ray backend).

It reads a JSON document on stdin (the host spec, the project folder holding the shipped code,
the network's name and the job's working folder), loads the network from the shipped code,
sends its own stdout and stderr to the client over the control connection, and runs the job.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from fission.core.dependencies import copy_folders, dependencies_of
from fission.core.loader import load_network
from fission.runtime.host import HostSpec, HostStopped, JobHost

__all__ = ["main"]


def main() -> int:
    request = json.loads(sys.stdin.read())
    spec = HostSpec(**request["spec"])
    spec.input_epochs = {int(k): int(v) for k, v in spec.input_epochs.items()}
    spec.resume_hints = {int(k): int(v) for k, v in spec.resume_hints.items()}
    project = Path(request["project"])
    network = load_network(project, request["network"])
    job = network.job(spec.job_id)
    workdir = Path(request["workdir"]).expanduser()
    workdir.mkdir(parents=True, exist_ok=True)
    copy_folders(dependencies_of(job).folders, project, workdir)
    relay = []
    for target, stream in ((1, "out"), (2, "err")):
        read_end, write_end = os.pipe()
        os.dup2(write_end, target)
        os.close(write_end)
        relay.append((read_end, stream))
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.chdir(workdir)
    try:
        return JobHost(job, spec, relay=relay).main()
    except HostStopped:
        return 0


if __name__ == "__main__":
    sys.exit(main())

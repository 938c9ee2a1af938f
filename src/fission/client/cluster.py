"""The client's side of a Ray cluster: the head node, the token, servers joining.

The head runs on CLIENT_IP with token authentication and health checks derived from the
config's HEARTBEAT_PERIOD and HEARTBEAT_MISSES (so a dead server is noticed after about
period x misses, and a partitioned one after about twice that). The client itself joins as the
server named ``client`` (it runs the LocalJobs) with no CPUs for anything else.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from fission.client.placement import CLIENT
from fission.client.secret import private_key_file
from fission.core.errors import FissionError

__all__ = [
    "RAY_PORT",
    "cluster_token",
    "connect",
    "health_settings",
    "start_head",
    "stop_head",
    "wait_for_servers",
]

RAY_PORT = 6379


def cluster_token(project_dir: Path) -> str:
    """The project's cluster token (``.fission/token``), created on first use; servers need a
    copy (``fission server --token-file``)."""
    return private_key_file(project_dir / ".fission" / "token")


#: Ray starts its workers at nice 15, so that its own daemons stay responsive under a load of
#: Ray tasks. A job host is the user's work, not a background task: it runs at the priority of
#: `fission server` itself (measured across emulated servers: 50 % more throughput in steady
#: state, see BENCHMARKS.md). FISSION's Ray processes get this unless their environment
#: already sets it.
JOB_PRIORITY = {"RAY_worker_niceness": "0"}


def health_settings(period: float, misses: int) -> dict[str, str]:
    """Ray's GCS health checks from the config's heartbeat settings."""
    period_ms = str(max(50, int(period * 1000)))
    return {
        "RAY_health_check_initial_delay_ms": "0",
        "RAY_health_check_period_ms": period_ms,
        "RAY_health_check_timeout_ms": period_ms,
        "RAY_health_check_failure_threshold": str(misses),
    }


def _ray() -> str:
    candidate = Path(sys.executable).parent / "ray"
    if not candidate.exists():
        raise FissionError(
            "Ray is not installed: `run` needs the cluster extra, pip install "
            "'fission-streams[cluster]'"
        )
    return str(candidate)


def start_head(
    client_ip: str, env: dict[str, str], temp_dir: Path | None = None, wrap: list[str] | None = None
) -> None:
    """Start the Ray head (``wrap``: a command prefix, e.g. to enter a network namespace)."""
    argv = [
        *(wrap or []), _ray(), "start", "--head",
        "--node-ip-address", client_ip,
        "--port", str(RAY_PORT),
        "--num-cpus", "0",
        "--resources", json.dumps({f"fission_server:{CLIENT}": 1}),
        "--include-dashboard", "false",
        "--disable-usage-stats",
    ]  # fmt: skip
    if temp_dir is not None:
        argv += ["--temp-dir", str(temp_dir)]
    env = {**JOB_PRIORITY, **env}  # the client's LocalJobs run in workers of the head
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-3:])
        raise FissionError(f"could not start the Ray head on {client_ip}: {tail}")


def stop_head(env: dict[str, str]) -> None:
    subprocess.run([_ray(), "stop", "--force"], env=env, capture_output=True)


def connect(address: str, project_dir: Path, modules: Sequence[ModuleType] = ()) -> None:
    """Join the cluster as its driver; the project folder (and ``modules`` from elsewhere,
    e.g. DEPENDENCIES outside the project) is what servers receive."""
    import ray

    runtime_env: dict[str, object] = {
        "working_dir": str(project_dir),
        # wheelhouse/: make wheelhouse's wheels for the servers (Ray alone is 75 MB)
        "excludes": [
            ".fission/",
            "*/simulation/",
            "*/run/",
            "**/__pycache__/",
            ".git/",
            "/wheelhouse/",
        ],
    }
    if modules:
        runtime_env["py_modules"] = [_shippable(module) for module in modules]
    ray.init(address=address, logging_level="ERROR", log_to_driver=False, runtime_env=runtime_env)


def _shippable(module: ModuleType) -> ModuleType | str:
    """What Ray's ``py_modules`` accepts for ``module``: its top-level package, or a folder
    made for a single-file module (Ray ships folders, not files)."""
    top = sys.modules[module.__name__.split(".")[0]]
    if hasattr(top, "__path__"):
        return top
    folder = Path(tempfile.mkdtemp(prefix="fission-module-")) / top.__name__
    folder.mkdir()
    shutil.copy(str(top.__file__), folder / "__init__.py")
    return str(folder)


def wait_for_servers(
    names: list[str],
    timeout: float,
    progress: Callable[[str], None],
    wanted: Callable[[str], bool] = lambda name: False,
) -> set[str]:
    """Wait until every server in ``names`` joined; returns the ones that did, plus the joined
    servers ``wanted`` accepts (those matching a MultiNode: never waited for)."""
    import ray

    deadline = time.monotonic() + timeout
    shown = ""
    joined: set[str] = set()
    while True:
        joined = set()
        for node in ray.nodes():
            if node.get("Alive"):
                for resource in node.get("Resources", {}):
                    if resource.startswith("fission_server:"):
                        joined.add(resource.split(":", 1)[1])
        missing = [n for n in names if n not in joined]
        strangers = sorted(n for n in joined - set(names) - {CLIENT} if not wanted(n))
        line = (
            f"servers joined: {len(names) - len(missing)}/{len(names)}"
            + (f" (waiting for {', '.join(missing)})" if missing else "")
            + (f"; not in NODES, so given no jobs: {', '.join(strangers)}" if strangers else "")
        )
        if line != shown:
            progress(line)
            shown = line
        if not missing or time.monotonic() > deadline:
            return {n for n in joined if n in names or (n != CLIENT and wanted(n))}
        time.sleep(0.2)

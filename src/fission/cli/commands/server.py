"""``fission server --client <CLIENT_IP>``: make this machine a FISSION server.

It runs a Ray worker node joined to the client's Ray head (``ray start --block``), advertising
the custom resource ``fission_server:<name>`` that pins jobs to this server, with the token
read from a file (token authentication is always on). This is the command the provisioning
playbooks install as a systemd service; it stays in the foreground and ends with Ray.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import click

from fission.cli.base import CommandContext
from fission.client.cluster import JOB_PRIORITY
from fission.core.errors import FissionError

HELP = "Join this machine to a client's cluster as a FISSION server (wraps `ray start`)."
SCOPE = "project"

DEFAULT_TOKEN_FILE = Path("~/.fission/token")
RAY_PORT = 6379


def ray_executable() -> str:
    """The `ray` script of this Python's environment (the cluster extra)."""
    candidate = Path(sys.executable).parent / "ray"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("ray")
    if found:
        return found
    raise FissionError(
        "Ray is not installed: install the cluster extra, pip install 'fission-streams[cluster]'"
    )


def read_token(path: Path) -> str:
    path = path.expanduser()
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise FissionError(
            f"cannot read the cluster token {path} ({exc.strerror}); copy the client's "
            f"<project>/.fission/token there (the provisioning playbooks do)"
        ) from None
    if len(token) < 32:
        raise FissionError(f"{path} does not hold a cluster token (too short)")
    return token


def ray_environment(token: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for every Ray process of a FISSION cluster: token auth on, lean workers."""
    env = dict(os.environ)
    env.update(
        {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": token,
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_enable_metrics_collection": "0",
            "RAY_num_workers_soft_limit": "0",
        }
    )
    for name, value in JOB_PRIORITY.items():
        env.setdefault(name, value)  # a value in the server's environment wins
    env.update(extra or {})
    return env


@click.command(help=HELP)
@click.option("--client", "client_ip", required=True, help="The client's address (CLIENT_IP).")
@click.option(
    "--address",
    default=None,
    help="This server's address as the client sees it "
    "(default: the address used to reach the client).",
)
@click.option(
    "--name",
    default=None,
    help="Server name; must match its BaseNode in NODES (default: the address).",
)
@click.option("--slots", type=int, default=4, show_default=True, help="Jobs it runs at once.")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    default=DEFAULT_TOKEN_FILE,
    show_default=True,
    help="File holding the cluster token.",
)
@click.option(
    "--port", type=int, default=RAY_PORT, show_default=True, help="Port of the client's Ray head."
)
@click.option(
    "--temp-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Ray's temporary folder on this server.",
)
@click.pass_obj
def app(
    context: CommandContext,
    client_ip: str,
    address: str | None,
    name: str | None,
    slots: int,
    token_file: Path,
    port: int,
    temp_dir: Path | None,
) -> int:
    token = read_token(token_file)
    ray = ray_executable()
    address = address or _route_source(client_ip)
    name = name or address
    resources = {f"fission_server:{name}": 1, "fission_slot": slots}
    argv = [
        ray, "start",
        "--address", f"{client_ip}:{port}",
        "--node-ip-address", address,
        "--num-cpus", str(slots),
        "--resources", json.dumps(resources),
        "--include-log-monitor", "false",
        "--disable-usage-stats",
        "--block",
    ]  # fmt: skip
    if temp_dir is not None:
        argv += ["--temp-dir", str(temp_dir)]
    click.echo(
        f"fission: server {name} ({address}) joining the client at {client_ip}:{port}", err=True
    )
    _wait_for_head(client_ip, port)
    process = subprocess.Popen(
        argv,
        env=ray_environment(token),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: process.send_signal(signal.SIGTERM))
    assert process.stdout is not None
    for line in process.stdout:
        if "AuthenticationError" in line or "InvalidAuthToken" in line or "Unauthenticated" in line:
            process.terminate()
            raise FissionError(
                f"the client at {client_ip} refused this server's token ({token_file}); copy "
                f"the client's <project>/.fission/token to this server"
            )
        sys.stderr.write(line)
    code = process.wait()
    if code not in (0, -signal.SIGTERM):
        raise FissionError(
            f"ray start ended with status {code}: is the client's Ray head running at "
            f"{client_ip}:{port} (python3 manage.py <network> run starts it)?"
        )
    return 0


def _wait_for_head(client_ip: str, port: int) -> None:
    """Wait (quietly after one message) until the client's Ray head accepts connections."""
    import socket
    import time

    told = False
    while True:
        try:
            with socket.create_connection((client_ip, port), timeout=2):
                return
        except OSError:
            if not told:
                click.echo(
                    f"fission: waiting for the client's Ray head at {client_ip}:{port} (it starts "
                    f"with `python3 manage.py <network> run` on the client)",
                    err=True,
                )
                told = True
            time.sleep(1)


def _route_source(destination: str) -> str:
    """This machine's address on the route to ``destination`` (no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((destination, 9))
            return str(probe.getsockname()[0])
        except OSError as exc:
            raise FissionError(f"no route to the client {destination}: {exc}") from None

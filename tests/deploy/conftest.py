"""Fixtures for the provisioning tests: a project made by startproject (with its ansible/ tree
and Makefile), ansible itself, and running a playbook against this machine
(``ansible_connection: local``) with every path inside a throw-away root."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


def tool(name: str) -> str:
    """An ansible tool of this Python's environment (the deploy extra); a missing one fails the
    test with what to install, never skips it."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed: the provisioning tests need the deploy extra "
            f"(pip install -e '.[deploy]'; scripts/bootstrap.sh installs it)",
            pytrace=False,
        )
    return found


def make_project(parent: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "fission.cli.admin", "proj", "startproject"],
        cwd=parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return parent / "proj"


def ansible_env(project: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PIP_", "PYTHONPATH"))
    }
    env.update(
        ANSIBLE_CONFIG=str(project / "ansible" / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCAL_TEMP=str(project / ".ansible-tmp"),
        ANSIBLE_HOME=str(project / ".ansible-home"),
    )
    return env


@dataclass
class Target:
    """This machine as a server: a project, an inventory with one local host, and a root
    folder under which the role installs everything (venv, unit, token)."""

    project: Path
    root: Path

    @property
    def inventory(self) -> Path:
        path = self.root.parent / "hosts.yml"
        if not path.exists():
            path.write_text(
                "fissionservers:\n  hosts:\n    testserver:\n      ansible_connection: local\n"
                f"      ansible_python_interpreter: {sys.executable}\n"
            )
        return path

    def variables(self, **overrides: object) -> dict[str, object]:
        values: dict[str, object] = {
            "fission_client_ip": "127.0.0.1",
            "fission_root": str(self.root / "opt" / "fission"),
            "fission_unit_dir": str(self.root / "etc" / "systemd" / "system"),
            "fission_token_path": str(self.root / "home" / ".fission" / "token"),
            "fission_user": getpass.getuser(),
            "fission_python": sys.executable,
            "fission_client_python": sys.executable,
            "fission_manage_packages": False,
            "fission_manage_service": False,
            # no index, no pip configuration of this machine: the wheelhouse or nothing
            "fission_pip_environment": {
                "PIP_CONFIG_FILE": os.devnull,
                "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
            },
            "ansible_become": False,
        }
        values.update(overrides)
        return values

    def playbook(self, name: str, **overrides: object) -> subprocess.CompletedProcess[str]:
        extra = self.root.parent / f"vars-{name}.json"
        extra.write_text(json.dumps(self.variables(**overrides)))
        return subprocess.run(
            [tool("ansible-playbook"), "-i", str(self.inventory), "-e", f"@{extra}",
             str(self.project / "ansible" / f"{name}.yml")],
            cwd=self.project,
            env=ansible_env(self.project),
            capture_output=True,
            text=True,
            timeout=600,
        )  # fmt: skip

    @property
    def unit(self) -> Path:
        return self.root / "etc" / "systemd" / "system" / "fission-server.service"

    @property
    def venv(self) -> Path:
        return self.root / "opt" / "fission" / "venv"


def venv_run(venv: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a program of a server venv as the service would (no PYTHONPATH of the tests)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(venv / "bin" / argv[0]), *argv[1:]], capture_output=True, text=True, env=env
    )

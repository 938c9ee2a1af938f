"""The fission role applied for real to this machine (connection local) into a throw-away root:
the venv installed from a wheelhouse with no index reachable, the versions checked against the
client's before anything runs, the token, and the systemd unit (verified by systemd-analyze).

What is not exercised here: apt-get and systemctl (fission_manage_packages/_service are off:
this machine is not the server to change), SSH, and Ray inside the server venv (installing it
takes minutes, so the wheelhouse holds FISSION and its small dependencies and the role's Ray
check is exercised with a venv whose distributions say which versions it has)."""

from __future__ import annotations

import getpass
import json
import platform
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from tests.deploy.conftest import Target, make_project, venv_run

from fission.provisioning.wheelhouse import MANIFEST, build_wheelhouse

CLIENT_FISSION = metadata.version("fission-streams")
CLIENT_RAY = metadata.version("ray")
CLIENT_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, str]]:
    """make servers with a wheelhouse of this machine's architecture, applied once."""
    base = tmp_path_factory.mktemp("server")
    project = make_project(base)
    glibc = platform.libc_ver()[1] or "2.17"
    build_wheelhouse(project / "wheelhouse", platform.machine(), glibc, cluster=False)
    subprocess.run(
        [sys.executable, "-c", "from pathlib import Path; from fission.client.cluster import "
         "cluster_token; cluster_token(Path.cwd())"],
        cwd=project, check=True,
    )  # fmt: skip
    target = Target(project, base / "root")
    result = target.playbook("servers", fission_cluster_extra=False)
    yield target, result.stdout + result.stderr
    shutil.rmtree(base, ignore_errors=True)


def test_servers_installs_the_clients_fission_from_the_wheelhouse_alone(installed) -> None:
    target, log = installed
    assert "failed=0" in log, log
    report = venv_run(target.venv, "python", "-c", "import importlib.metadata as m, sys; "
                      "print(m.version('fission-streams'), sys.prefix)")  # fmt: skip
    assert report.stdout.split() == [CLIENT_FISSION, str(target.venv)], report.stderr
    # the venv runs the server command the unit starts
    help_text = venv_run(target.venv, "fission", "server", "--help")
    assert help_text.returncode == 0 and "--client" in help_text.stdout
    # what was installed is exactly the wheelhouse's content, copied next to the venv
    copied = target.root / "opt" / "fission" / "wheelhouse"
    wheels = sorted(p.name for p in copied.glob("*.whl"))
    assert f"fission_streams-{CLIENT_FISSION}-py3-none-any.whl" in wheels
    frozen = venv_run(target.venv, "python", "-m", "pip", "freeze").stdout.lower()
    for wheel in wheels:
        name, version = wheel.split("-")[:2]
        assert f"{name.replace('_', '-')}=={version}" in frozen.replace("_", "-"), wheel
    manifest = json.loads((copied / MANIFEST).read_text())
    assert manifest["fission"] == CLIENT_FISSION and manifest["machines"] == [platform.machine()]


def test_the_token_is_the_clients_and_private(installed) -> None:
    target, _ = installed
    token = target.root / "home" / ".fission" / "token"
    assert token.read_text() == (target.project / ".fission" / "token").read_text()
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.parent.stat().st_mode) == 0o700


def _exec_start(unit: Path) -> list[str]:
    lines = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1
    return lines[0].removeprefix("ExecStart=").split()


def _verify(unit: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (apt-get install systemd)", pytrace=False)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_unit_runs_the_server_command_against_the_client(installed) -> None:
    target, _ = installed
    assert _exec_start(target.unit) == [
        str(target.venv / "bin" / "fission"), "server", "--client", "127.0.0.1",
        "--token-file", str(target.root / "home" / ".fission" / "token"), "--slots", "4",
    ]  # fmt: skip
    text = target.unit.read_text()
    assert "Restart=always" in text and "WantedBy=multi-user.target" in text
    assert f"User={getpass.getuser()}" in text
    _verify(target.unit)


def test_renew_renders_the_unit_again_with_new_settings(installed) -> None:
    target, _ = installed
    result = target.playbook(
        "renew",
        fission_cluster_extra=False,
        fission_address="127.0.0.2",
        fission_name="lab-pi-7",
        fission_server_args=["--temp-dir", "/var/tmp/ray"],
        fission_server_environment={"RAY_BACKEND_LOG_LEVEL": "debug"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    argv = _exec_start(target.unit)
    assert argv[argv.index("--address") + 1] == "127.0.0.2"
    assert argv[argv.index("--name") + 1] == "lab-pi-7"
    assert argv[-2:] == ["--temp-dir", "/var/tmp/ray"]
    assert 'Environment="RAY_BACKEND_LOG_LEVEL=debug"' in target.unit.read_text()
    _verify(target.unit)


def _fake_venv(folder: Path, fission: str, ray: str) -> Path:
    """A real venv whose site-packages holds distributions of the given versions (their
    metadata only: what the version check reads)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = next((folder / "lib").glob("python*/site-packages"))
    for name, version in (("fission_streams", fission), ("ray", ray)):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n"
        )
    return folder


def test_a_version_mismatch_is_reported_before_anything_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    subprocess.run(
        [sys.executable, "-c", "from pathlib import Path; from fission.client.cluster import "
         "cluster_token; cluster_token(Path.cwd())"],
        cwd=project, check=True,
    )  # fmt: skip
    target = Target(project, tmp_path / "root")
    venv = _fake_venv(tmp_path / "venv", "0.0.9", "2.59.0")
    result = target.playbook("renew", fission_venv=str(venv))
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        f"version mismatch on testserver ({venv}): fission 0.0.9 (client {CLIENT_FISSION}); "
        f"ray 2.59.0 (client {CLIENT_RAY}); run make servers" in " ".join(log.split())
    ), log
    assert not target.unit.exists()  # nothing rendered, nothing restarted
    assert not (target.root / "home" / ".fission" / "token").exists()

    # the same venv with the client's versions passes, and renew renders the unit
    shutil.rmtree(venv)
    _fake_venv(venv, CLIENT_FISSION, CLIENT_RAY)
    result = target.playbook("renew", fission_venv=str(venv))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _exec_start(target.unit)[0] == str(venv / "bin" / "fission")


def test_a_wheelhouse_for_other_versions_is_refused(installed, tmp_path: Path) -> None:
    """The installed project's wheelhouse has no Ray: with the cluster extra (the default) the
    role refuses it before touching the server."""
    target, _ = installed
    other = Target(target.project, tmp_path / "root")
    result = other.playbook("servers")
    log = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert f"holds python {CLIENT_PYTHON}, fission {CLIENT_FISSION}, ray none" in log, log
    assert "run make wheelhouse again" in log
    assert not (tmp_path / "root").exists()


def test_a_wheelhouse_for_another_architecture_is_refused(installed, tmp_path: Path) -> None:
    target, _ = installed
    project = tmp_path / "proj"
    shutil.copytree(target.project, project)
    manifest = project / "wheelhouse" / MANIFEST
    data = json.loads(manifest.read_text())
    data["machines"] = ["aarch64" if platform.machine() != "aarch64" else "x86_64"]
    manifest.write_text(json.dumps(data))
    other = Target(project, tmp_path / "root")
    result = other.playbook("servers", fission_cluster_extra=False)
    log = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert (
        f"testserver has Python {CLIENT_PYTHON} on {platform.machine()}; the client has Python "
        f"{CLIENT_PYTHON} and the wheelhouse is for {data['machines'][0]}." in log
    ), log
    assert f"make wheelhouse PLATFORM={platform.machine()}" in log
    assert not (tmp_path / "root").exists()

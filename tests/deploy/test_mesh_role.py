"""The mesh role applied for real to this machine (connection local) into a throw-away root:
the module loaded at boot, NetworkManager kept off the ad-hoc interface, and the unit that
brings bat0 up. This machine has no Wi-Fi and no batman-adv: apt-get and systemctl are off
(mesh_manage_packages/_service) and nothing is started."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.deploy.conftest import Target, make_project


def test_mesh_role_renders_bat0_on_the_ad_hoc_interface(tmp_path: Path) -> None:
    target = Target(make_project(tmp_path), tmp_path / "root")
    etc = target.root / "etc"
    result = target.playbook(
        "mesh",
        mesh_manage_packages=False,
        mesh_manage_service=False,
        mesh_unit_dir=str(etc / "systemd" / "system"),
        mesh_modules_dir=str(etc / "modules-load.d"),
        mesh_networkmanager_dir=str(etc / "NetworkManager" / "conf.d"),
        mesh_interface="wlan1",
        mesh_ibss_ssid="fission-mesh",
        mesh_ibss_frequency=2462,
        mesh_address="10.0.0.2/24",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (etc / "modules-load.d" / "batman-adv.conf").read_text() == "batman-adv\n"
    assert (
        "unmanaged-devices=interface-name:wlan1"
        in (etc / "NetworkManager" / "conf.d" / "fission-mesh.conf").read_text().splitlines()
    )
    unit = etc / "systemd" / "system" / "fission-mesh.service"
    commands = [
        line.split("=", 1)[1]
        for line in unit.read_text().splitlines()
        if line.startswith(("ExecStartPre=", "ExecStart="))
    ]
    assert commands == [
        "/usr/sbin/modprobe batman-adv",
        "/usr/sbin/ip link set wlan1 down",
        "/usr/sbin/iw dev wlan1 set type ibss",
        "/usr/sbin/ip link set wlan1 mtu 1532",
        "/usr/sbin/ip link set wlan1 up",
        "/usr/sbin/iw dev wlan1 ibss join fission-mesh 2462",
        "/usr/sbin/batctl meshif bat0 interface add wlan1",
        "/usr/sbin/ip link set bat0 up",
        "/usr/sbin/ip address replace 10.0.0.2/24 dev bat0",
    ]
    assert "BindsTo=sys-subsystem-net-devices-wlan1.device" in unit.read_text()

    # systemd's own check of the unit: the only complaints allowed are about the programs
    # that belong to the servers (batctl, iw, modprobe) and are missing on this machine
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (apt-get install systemd)", pytrace=False)
    check = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    complaints = [line for line in check.stderr.splitlines() if line.strip()]
    missing = re.compile(r"Command /usr/sbin/(batctl|iw|modprobe) is not executable")
    assert all(missing.search(line) for line in complaints), check.stderr
    assert check.returncode == (1 if complaints else 0)


def test_without_an_ssid_the_interface_is_left_to_the_user(tmp_path: Path) -> None:
    target = Target(make_project(tmp_path), tmp_path / "root")
    etc = target.root / "etc"
    result = target.playbook(
        "mesh",
        mesh_manage_packages=False,
        mesh_manage_service=False,
        mesh_unit_dir=str(etc / "systemd" / "system"),
        mesh_modules_dir=str(etc / "modules-load.d"),
        mesh_networkmanager_dir=str(etc / "NetworkManager" / "conf.d"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (etc / "systemd" / "system" / "fission-mesh.service").read_text()
    assert "ExecStart=/usr/sbin/ip link set wlan0 up\n" in text
    assert "iw dev" not in text and "ip address" not in text
    assert not (etc / "NetworkManager").exists()

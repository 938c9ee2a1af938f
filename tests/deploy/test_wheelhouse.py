"""fission wheelhouse: the platforms it asks pip for, and its errors (the wheelhouse itself is
built and installed from, with no index, in test_server_role.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.deploy.conftest import make_project

from fission.core.errors import FissionError
from fission.provisioning.wheelhouse import platform_tags


def test_platform_tags_list_every_glibc_down_to_manylinux2014() -> None:
    tags = platform_tags("aarch64", "2.36")
    assert tags[0] == "manylinux_2_36_aarch64"
    assert tags[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert len(tags) == 36 - 17 + 2


@pytest.mark.parametrize("machine", ["armv7l", "armv6l", "i686"])
def test_32_bit_servers_are_refused_with_the_way_out(machine: str) -> None:
    with pytest.raises(FissionError, match="64-bit OS"):
        platform_tags(machine, "2.36")


def _wheelhouse(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fission", "wheelhouse", *args],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_command_errors_are_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    result = _wheelhouse(project, "--platform", "armv7l")
    assert result.returncode != 0
    assert result.stderr.startswith("Error: Ray publishes no wheels for armv7l (32-bit)")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    settings = project / "broken.yml"
    settings.write_text("fission_extra_packages: numpy\n")
    result = _wheelhouse(project, "--requirements-from", str(settings))
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {settings}: fission_extra_packages must be a list of pip requirements"
    )
    assert not (project / "wheelhouse").exists()

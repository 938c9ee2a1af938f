"""startproject and startnetwork, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def script(name: str) -> str:
    """An installed console script, from the environment running the tests (no PATH needed)."""
    return str(Path(sys.executable).parent / name)


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts}


def test_startproject_layout(tmp_path):
    result = subprocess.run(
        [script("fission_admin.py"), "demo", "startproject"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    root = tmp_path / "demo"
    expected = {
        "manage.py",
        ".gitignore",
        ".fission",
        ".fission/secret",
        "shared",
        "shared/__init__.py",
        "shared/source",
        "shared/jobs",
        "shared/jobs/__init__.py",
        "shared/jobs/jobs.py",
        "shared/nodes",
        "shared/nodes/__init__.py",
        "shared/nodes/nodes.py",
        "shared/pipes",
        "shared/pipes/__init__.py",
        "shared/pipes/pipes.py",
        "Makefile",
        "ansible",
    }
    # ansible/'s playbooks and roles are checked in tests/deploy/
    assert {f for f in files(root) if not f.startswith("ansible/")} == expected
    assert not (root / "shared" / "config.py").exists()
    assert (root / ".fission" / "secret").stat().st_mode & 0o077 == 0
    assert ".fission/" in (root / ".gitignore").read_text()


def test_startproject_through_the_fission_script(tmp_path):
    result = subprocess.run(
        [script("fission"), "startproject", "other"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "other" / "manage.py").is_file()


def test_startproject_refuses_an_existing_folder(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = subprocess.run(
        [script("fission_admin.py"), "taken", "startproject"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "already exists" in result.stderr and "never overwrites" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["1abc", "my-project", "class"])
def test_startproject_rejects_bad_names(tmp_path, name):
    result = subprocess.run(
        [script("fission_admin.py"), name, "startproject"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "not a valid project name" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_admin_only_creates_projects(tmp_path):
    result = subprocess.run(
        [script("fission_admin.py"), "x", "simulate"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 2 and "unknown command 'simulate'" in result.stderr


def test_startnetwork_layout(project):
    result = project.manage("demo_network_v1", "startnetwork")
    assert result.returncode == 0, result.stderr
    root = project.root / "demo_network_v1"
    assert files(root) == {
        "__init__.py",
        "config.py",
        "source",
        "jobs",
        "jobs/__init__.py",
        "jobs/jobs.py",
        "nodes",
        "nodes/__init__.py",
        "nodes/nodes.py",
        "pipes",
        "pipes/__init__.py",
        "pipes/pipes.py",
        "tests",
        "tests/test_jobs.py",
    }
    config = (root / "config.py").read_text()
    assert "from demo_network_v1.jobs.jobs import" in config
    again = project.manage("demo_network_v1", "startnetwork")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_manage_works_from_another_folder(project, tmp_path):
    project.manage("net", "startnetwork")
    result = subprocess.run(
        [sys.executable, str(project.root / "manage.py"), "net", "simulate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # the template's JOBS is empty: the error proves the network was found from elsewhere
    assert result.returncode == 2 and "JOBS is empty" in result.stderr

"""The playbooks a new project gets: present, valid for ansible, and clean for ansible-lint."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.deploy.conftest import ansible_env, make_project, tool

PLAYBOOKS = ["servers", "start", "stop", "renew", "mesh"]


def test_startproject_writes_the_provisioning_tree(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    makefile = (project / "Makefile").read_text()
    for target in ["servers_pw", "servers", "start", "stop", "renew", "wheelhouse", "mesh"]:
        assert f"\n{target}:" in makefile, target
    assert "\n\t$(PLAYBOOK) --ask-pass --ask-become-pass ansible/servers.yml" in makefile
    assert (project / "ansible/inventories/production/hosts.yml").is_file()
    assert (
        project / "ansible/inventories/production/group_vars/fissionservers/setting.yml"
    ).is_file()
    assert (project / "ansible/roles/fission/templates/fission-server.service.j2").is_file()
    assert "wheelhouse/" in (project / ".gitignore").read_text().splitlines()
    assert not list(project.rglob("*-tpl"))


def test_the_makefile_targets_run_the_playbooks(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is missing (apt-get install make)", pytrace=False)
    python = f"PYTHON={sys.executable}"
    # make token really runs: the client's cluster token, private to its owner
    token = subprocess.run([make, python, "token"], cwd=project, capture_output=True, text=True)
    assert token.returncode == 0, token.stderr
    path = project / ".fission" / "token"
    assert len(path.read_text().strip()) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    # the others are shown (make -n), not run: they would reach for the servers
    dry = subprocess.run(
        [make, "-n", python, "servers", "servers_pw", "start", "stop", "renew", "mesh",
         "wheelhouse", "PLATFORM=x86_64"],
        cwd=project, capture_output=True, text=True,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    playbook = (
        "ANSIBLE_CONFIG=ansible/ansible.cfg ansible-playbook -i "
        f"ansible/inventories/production/hosts.yml -e fission_client_python={sys.executable}"
    )
    assert dry.stdout.splitlines() == [
        f"{playbook} --ask-become-pass ansible/servers.yml",
        f"{playbook} --ask-pass --ask-become-pass ansible/servers.yml",
        f"{playbook} --ask-become-pass ansible/start.yml",
        f"{playbook} --ask-become-pass ansible/stop.yml",
        f"{playbook} --ask-become-pass ansible/renew.yml",
        f"{playbook} --ask-become-pass ansible/mesh.yml",
        f"{sys.executable} -m fission wheelhouse --platform x86_64 --requirements-from "
        "ansible/inventories/production/group_vars/fissionservers/setting.yml",
    ]


def test_every_playbook_passes_syntax_check_and_ansible_lint(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    ansible = project / "ansible"
    env = ansible_env(project)
    syntax = subprocess.run(
        [tool("ansible-playbook"), "--syntax-check",
         *(str(ansible / f"{name}.yml") for name in PLAYBOOKS)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    for name in PLAYBOOKS:
        assert f"playbook: {ansible / name}.yml" in syntax.stdout
    lint = subprocess.run(
        [tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor",
         *(f"{name}.yml" for name in PLAYBOOKS)],
        cwd=ansible, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 failure(s), 0 warning(s)" in lint.stdout + lint.stderr
    assert "Profile 'production' was required, and it passed" in lint.stdout + lint.stderr


def test_ansible_lint_finds_a_broken_playbook(tmp_path: Path) -> None:
    """The lint run above can fail: a task without a name and a bare command is reported."""
    project = make_project(tmp_path)
    ansible = project / "ansible"
    (ansible / "broken.yml").write_text(
        "---\n- hosts: fissionservers\n  tasks:\n    - command: echo hi\n"
    )
    lint = subprocess.run(
        [tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor", "broken.yml"],
        cwd=ansible, env=ansible_env(project), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert lint.returncode != 0
    assert "name[play]" in lint.stdout + lint.stderr

"""Loading config.py: import errors and exceptions name the user's file and line."""

from __future__ import annotations

import pytest

from fission.core.errors import ConfigError, ProjectError
from fission.core.loader import load_network


def test_syntax_error_names_the_line(write):
    root = write("JOBS = [\n")
    with pytest.raises(ConfigError, match=r"config\.py:\d+: syntax error"):
        load_network(root, "net")


def test_import_error_names_the_line_and_the_rule(write):
    root = write("from net.jobs.missing import Nothing\nJOBS = []\n")
    with pytest.raises(ConfigError, match=r"config\.py:5: No module named 'net.jobs.missing'"):
        load_network(root, "net")


def test_exception_in_config(write):
    root = write("x = 1 / 0\n")
    with pytest.raises(ConfigError, match=r"config\.py:5: loading config.py failed: ZeroDivision"):
        load_network(root, "net")


def test_missing_network(tmp_path):
    with pytest.raises(ProjectError, match="no network 'ghost'.*startnetwork"):
        load_network(tmp_path, "ghost")


def test_shared_network_cannot_run(tmp_path):
    (tmp_path / "shared").mkdir()
    with pytest.raises(ProjectError, match="cannot run by itself"):
        load_network(tmp_path, "shared")

"""manage.py: help, and one-line errors for unknown commands and networks."""

from __future__ import annotations


def test_help_lists_the_commands(project):
    for args in (["--help"], ["demo", "--help"]):
        result = project.manage(*args)
        assert result.returncode == 0
        assert "simulate" in result.stdout and "startnetwork" in result.stdout


def test_no_arguments_prints_usage_and_fails(project):
    result = project.manage()
    assert result.returncode == 2 and "Usage: manage.py <network> <command>" in result.stdout


def test_command_help(project):
    project.manage("net", "startnetwork")
    result = project.manage("net", "simulate", "--help")
    assert result.returncode == 0
    assert "--folder" in result.stdout and "--debug-window" in result.stdout


def test_unknown_command(project):
    result = project.manage("net", "frobnicate")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: unknown command 'frobnicate'; see: python3 manage.py --help"
    )


def test_unknown_network(project):
    result = project.manage("ghost", "simulate")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no network 'ghost'" in lines[0]
    assert "python3 manage.py ghost startnetwork" in lines[0]


def test_unknown_option(project):
    project.manage("net", "startnetwork")
    result = project.manage("net", "simulate", "--bogus")
    assert result.returncode == 2
    assert "No such option '--bogus'" in result.stderr and "Traceback" not in result.stderr


def test_config_error_is_one_line_and_traceback_on_request(project):
    project.network("net", config="JOBS = [1]\n")
    result = project.manage("net", "simulate")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "Traceback" not in result.stderr
    verbose = project.manage("net", "simulate", "--traceback")
    assert "Traceback" in verbose.stderr

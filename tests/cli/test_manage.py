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


def test_simulate_warns_about_likely_mistakes_but_runs(project):
    jobs = """
from fission.core.jobs import PythonJob


class One(PythonJob):
    def run(self):
        yield 1


class Sink(PythonJob):
    def run(self, value):
        pass
"""
    config = """
from fission.core.pipes import PicklePipe
from net.jobs.jobs import One, Sink

JOBS = [One(outputs=[PicklePipe(1)]), Sink(inputs=[PicklePipe(1)])]
DEBUG_WINDOWS = True
HEARTBEAT_PERIOD = 0
"""
    project.network("net", jobs=jobs, config=config)
    result = project.manage("net", "simulate")
    assert result.returncode == 0, result.stderr
    assert "DEBUG_WINDOWS is not a FISSION setting (ignored); did you mean DEBUG_WINDOW?" in (
        result.stderr
    )
    assert "warning (matters for run)" in result.stderr and "HEARTBEAT_PERIOD" in result.stderr


def test_folder_option_never_empties_a_foreign_folder(project):
    project.network("net", config="JOBS = []\n")
    keep = project.root / "keep"
    keep.mkdir()
    (keep / "data.txt").write_text("precious")
    jobs_ok = project.root / "net" / "config.py"
    jobs_ok.write_text(
        "from fission.core.pipes import PicklePipe\n"
        "from fission.core.jobs import PythonJob\n"
        "class S(PythonJob):\n    def run(self):\n        yield 1\n"
        "class T(PythonJob):\n    def run(self, v):\n        pass\n"
        "JOBS = [S(outputs=[PicklePipe(1)]), T(inputs=[PicklePipe(1)])]\n"
    )
    result = project.manage("net", "simulate", "--folder", str(keep))
    assert result.returncode == 2
    assert "is not a FISSION run folder; refusing to empty it" in result.stderr
    assert (keep / "data.txt").read_text() == "precious"


def test_names_that_shadow_modules_are_refused(project):
    result = project.manage("codecs", "startnetwork")
    assert result.returncode == 2 and "would shadow the Python module" in result.stderr

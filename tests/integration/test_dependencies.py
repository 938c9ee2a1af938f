"""DEPENDENCIES under `simulate`: data folders are copied into each job's working folder before
`setup` runs (any number of folders, later ones win), and mistakes are named at load time.
Shipping modules from outside the project to servers is checked with the module finder."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

JOBS = """
from pathlib import Path

from fission.core.jobs import LocalJob, PythonJob


class Source(PythonJob):
    DEPENDENCIES = ["assets/numbers", "assets/override"]

    def setup(self):
        self.values = [int(v) for v in Path("numbers.txt").read_text().split()]
        self.scale = int(Path("scale.txt").read_text())

    def run(self):
        for value in self.values:
            yield value * self.scale


class Show(LocalJob, PythonJob):
    def run(self, value):
        print("got", value)
"""

CONFIG = """
from fission.core.pipes import PicklePipe
from deps.jobs.jobs import Show, Source

JOBS = [Source(outputs=[PicklePipe(1)]), Show(inputs=[PicklePipe(1)])]
"""


def _assets(root: Path) -> None:
    numbers = root / "assets" / "numbers"
    numbers.mkdir(parents=True)
    (numbers / "numbers.txt").write_text("1 2 3\n")
    (numbers / "scale.txt").write_text("1\n")
    override = root / "assets" / "override"
    override.mkdir()
    (override / "scale.txt").write_text("10\n")  # listed later: replaces the first one


def test_folders_are_copied_into_the_working_folder(project):
    _assets(project.root)
    project.network("deps", jobs=JOBS, config=CONFIG)
    result = project.manage("deps", "simulate", "--debug-window")
    assert result.returncode == 0, result.stderr
    assert [line.split()[-1] for line in result.stdout.splitlines() if "got" in line] == [
        "10",
        "20",
        "30",
    ]
    workdir = project.root / "deps" / "simulation" / "1"
    assert (workdir / "numbers.txt").read_text() == "1 2 3\n"


def test_a_missing_folder_is_named_with_the_job_and_its_line(project):
    project.network("deps", jobs=JOBS, config=CONFIG)  # no assets folder
    result = project.manage("deps", "simulate")
    assert result.returncode != 0
    assert "config.py:5: Source 1: DEPENDENCIES folder 'assets/numbers' does not exist" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_a_wrong_item_is_named(project):
    project.network(
        "deps",
        jobs=JOBS.replace('["assets/numbers", "assets/override"]', "[42]"),
        config=CONFIG,
    )
    result = project.manage("deps", "simulate")
    assert result.returncode != 0
    assert "Source 1: DEPENDENCIES may list folders (paths) and modules" in result.stderr
    assert "got 42" in result.stderr


def test_modules_from_outside_the_project_are_shipped_as_folders(tmp_path, monkeypatch):
    """`run` gives Ray the modules a job lists that the project does not hold: packages as
    they are, a single-file module as a folder Ray can ship."""
    from fission.client.cluster import _shippable
    from fission.core.dependencies import outside_modules

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "pkg").mkdir(parents=True)
    (elsewhere / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (elsewhere / "pkg" / "part.py").write_text("def helper():\n    return 2\n")
    (elsewhere / "single.py").write_text("WORD = 'single'\n")
    inside = tmp_path / "project" / "net"
    inside.mkdir(parents=True)
    (inside / "local_mod.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    monkeypatch.syspath_prepend(str(inside))
    import local_mod
    import pkg.part
    import single

    class Job:
        DEPENDENCIES = [pkg.part.helper, single, local_mod, "some/folder"]
        declared_at = "config.py:1"
        name = "Job 1"

    try:
        found = outside_modules(Job(), tmp_path / "project")
        assert [m.__name__ for m in found] == ["pkg.part", "single"]
        assert _shippable(found[0]) is pkg  # the whole top-level package
        folder = Path(_shippable(found[1]))
        assert folder.name == "single"
        assert (folder / "__init__.py").read_text() == textwrap.dedent("WORD = 'single'\n")
    finally:
        for name in ("pkg", "pkg.part", "single", "local_mod"):
            sys.modules.pop(name, None)

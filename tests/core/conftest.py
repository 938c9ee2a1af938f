"""In-process network loading for the pure core tests (no processes)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from fission.core.loader import load_network
from fission.core.network import Network

JOBS = """
from fission.core.jobs import PythonJob


class Source(PythonJob):
    def run(self):
        yield 1


class Middle(PythonJob):
    def run(self, value):
        return value


class Join(PythonJob):
    def run(self, a, b):
        return a + b


class Sink(PythonJob):
    def run(self, value):
        pass


class Variadic(PythonJob):
    def run(self, *values):
        pass


class NoArgs(PythonJob):
    def run(self):
        return 1


class GeneratorMiddle(PythonJob):
    def run(self, value):
        yield value
"""

HEADER = """
from fission.core.pipes import PicklePipe, JSONPipe, BytesPipe
from fission.core.nodes import BaseNode
from net.jobs.jobs import Source, Middle, Join, Sink, Variadic, NoArgs, GeneratorMiddle
"""


def write_network(root: Path, config_body: str, jobs: str = JOBS, name: str = "net") -> Path:
    folder = root / name
    for sub in ("", "jobs", "pipes", "nodes"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / sub / "__init__.py").write_text("")
    (folder / "jobs" / "jobs.py").write_text(textwrap.dedent(jobs))
    (folder / "config.py").write_text(HEADER + textwrap.dedent(config_body))
    return folder


@pytest.fixture
def load(tmp_path: Path) -> Callable[[str], Network]:
    def loader(config_body: str, jobs: str = JOBS) -> Network:
        write_network(tmp_path, config_body, jobs)
        return load_network(tmp_path, "net")

    return loader


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    """Write network 'net' with the given config body; returns the project folder."""

    def writer(config_body: str, jobs: str = JOBS) -> Path:
        write_network(tmp_path, config_body, jobs)
        return tmp_path

    return writer

"""The pytest plugin of ``manage.py <network> test``: fixtures to test a network's jobs.

Loaded with ``-p fission.testing.plugin`` (the ``test`` command does that). Fixtures:

``feed``
    :func:`fission.testing.feed`, running the job in a fresh temporary folder.
``run_jobs``
    :func:`fission.testing.run_jobs`; jobs may also be given by id or class name, or left out
    (every job of the network), and are then taken from a fresh load of its config.py.
``fission_network``
    the network under test, loaded afresh from its config.py for each test.

The network is the one ``--fission-project``/``--fission-network`` name (set by ``test``);
without them, it is the network whose ``tests/`` folder the test file is in.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from fission.core.jobs import BaseJob
from fission.core.loader import load_network
from fission.core.network import Network
from fission.testing.harness import Blocks, GraphResult, HarnessError, feed, run_jobs

__all__ = [
    "feed_fixture",
    "fission_network",
    "pytest_addoption",
    "pytest_configure",
    "run_jobs_fixture",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fission", "FISSION networks")
    group.addoption("--fission-project", default=None, help="Project folder of the network.")
    group.addoption("--fission-network", default=None, help="Name of the network under test.")


def pytest_configure(config: pytest.Config) -> None:
    project = config.getoption("--fission-project")
    if project and str(Path(project).resolve()) not in sys.path:
        # `from <network>.jobs.jobs import MyJob` in a test, as in config.py
        sys.path.insert(0, str(Path(project).resolve()))


def _network_of(request: pytest.FixtureRequest) -> tuple[Path, str]:
    project = request.config.getoption("--fission-project")
    network = request.config.getoption("--fission-network")
    if project and network:
        return Path(project).resolve(), network
    for folder in Path(request.path).resolve().parents:
        if (folder / "config.py").is_file() and (folder.parent / "manage.py").is_file():
            return folder.parent, folder.name
    raise HarnessError(
        f"{request.path} is not inside a network's tests/ folder, so the network to load is "
        f"unknown; run the tests with: python3 manage.py <network> test"
    )


@pytest.fixture
def fission_network(request: pytest.FixtureRequest) -> Network:
    """The network under test, loaded afresh from its config.py (fresh job objects)."""
    project, name = _network_of(request)
    return load_network(project, name)


@pytest.fixture(name="feed")
def feed_fixture(tmp_path: Path) -> Callable[..., Any]:
    """``feed(job, [blocks of input 1], [blocks of input 2], ..., rounds=None)``."""
    return functools.partial(feed, workdir=tmp_path / "job")


@pytest.fixture(name="run_jobs")
def run_jobs_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., GraphResult]:
    """``run_jobs(jobs=None, inputs={pipe id: blocks}, rounds=None)``; jobs as objects, ids
    or class names of the network under test, or None for all of its jobs."""

    def run(
        jobs: Sequence[BaseJob | int | str] | None = None,
        inputs: Mapping[int, Blocks | Iterable[Any]] | None = None,
        rounds: int | Mapping[BaseJob, int] | None = None,
    ) -> GraphResult:
        chosen: list[BaseJob] = []
        if jobs is None or any(not isinstance(job, BaseJob) for job in jobs):
            network: Network = request.getfixturevalue("fission_network")
            for wanted in jobs if jobs is not None else network.jobs:
                chosen += _select(network, wanted)
        else:
            chosen = list(jobs)  # type: ignore[arg-type]
        return run_jobs(chosen, inputs, rounds, workdir=tmp_path / "jobs")

    return run


def _select(network: Network, wanted: BaseJob | int | str) -> list[BaseJob]:
    if isinstance(wanted, BaseJob):
        return [wanted]
    found = [
        job for job in network.jobs if str(wanted) in (str(job.id), type(job).__name__, job.name)
    ]
    if not found:
        names = ", ".join(job.name for job in network.jobs) or "none"
        raise HarnessError(
            f"network {network.name} has no job {wanted!r} (its jobs: {names}); give a job's "
            f"id or class name"
        )
    return found

"""``manage.py <network> test [pytest options]``: run the network's tests/ with pytest.

pytest runs in its own process with FISSION's plugin (:mod:`fission.testing.plugin`) and the
project folder on the import path, so tests import jobs as config.py does. The exit status is
pytest's: 0 all passed, 1 some failed, 2 interrupted, 4 usage error, 5 no tests collected.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import click

from fission.cli.base import CommandContext
from fission.core.errors import FissionError, ProjectError

HELP = "Run the network's tests/ with pytest and FISSION's fixtures (feed, run_jobs)."
SCOPE = "network"


@click.command(
    help=HELP + "\n\nPYTEST_ARGS are passed to pytest, e.g. -k double, -x, or a file of tests/ "
    "(put -- in front of options that FISSION would take itself, such as -- --help).",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def app(context: CommandContext, pytest_args: tuple[str, ...]) -> int:
    if importlib.util.find_spec("pytest") is None:
        raise FissionError(
            "`test` needs pytest, which is not installed in this Python: "
            "pip install 'fission-streams[testing]'"
        )
    tests = context.network_dir / "tests"
    if not tests.is_dir():
        raise ProjectError(
            f"network {context.network} has no tests folder ({tests}); create it with a file "
            f"test_jobs.py (a new network from startnetwork has an example)"
        )
    # a test file or folder given by the user (from here or from tests/) replaces tests/
    args = [_test_path(arg, tests) for arg in pytest_args]
    paths = [new for new, old in zip(args, pytest_args, strict=True) if new != old]
    paths += [a for a in args if a[:1] not in ("-", "") and Path(a.partition("::")[0]).exists()]
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "fission.testing.plugin",
        "--fission-project",
        str(context.project_dir),
        "--fission-network",
        str(context.network),
        *([] if paths else [str(tests)]),
        *args,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(context.project_dir), env.get("PYTHONPATH", "")) if p
    )
    sys.stdout.flush()
    process = subprocess.Popen(command, env=env)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue  # pytest got the Ctrl+C too: it stops and reports, then we return


def _test_path(arg: str, tests: Path) -> str:
    """``arg``, or its path inside tests/ when it names a file or folder there."""
    path, _, rest = arg.partition("::")
    if arg.startswith("-") or not path or Path(path).exists() or not (tests / path).exists():
        return arg
    return str(tests / path) + (f"::{rest}" if rest else "")

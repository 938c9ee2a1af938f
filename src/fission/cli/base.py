"""What every command shares: its context, discovery, and the one place errors are printed.

A command is a module in ``fission.cli.commands`` defining ``app`` (a
:class:`click.Command` whose context object is the :class:`CommandContext`), ``HELP`` (one
line for the command list) and ``SCOPE``:

* ``"network"``: needs an existing, runnable network (``manage.py <network> <command>``);
* ``"new-network"``: takes the network name of a network that does not exist yet;
* ``"project"``: needs only the project folder.

Errors a user can cause are :class:`~fission.core.errors.FissionError`: printed on one line to
stderr with the exit code the error carries (``--traceback`` shows the Python traceback).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import click

from fission.core.errors import FissionError
from fission.core.network import Network

__all__ = ["CommandContext", "discover_commands", "fail", "invoke", "show_warnings"]


@dataclass(frozen=True)
class CommandContext:
    """What a command knows about where it runs."""

    project_dir: Path
    network: str | None = None

    @property
    def network_dir(self) -> Path:
        assert self.network is not None
        return self.project_dir / self.network


def discover_commands() -> dict[str, ModuleType]:
    """Command modules found in ``fission.cli.commands`` (names starting with _ are skipped)."""
    import fission.cli.commands as package

    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, "app"):
            found[info.name] = module
    return found


def show_warnings(network: Network) -> None:
    """Print what is likely a mistake but does not stop a local run (settings for servers)."""
    for warning in (*network.settings.warnings, *network.warnings):
        print(f"fission: warning: {warning}", file=sys.stderr)
    for problem in network.settings.run_problems:
        print(f"fission: warning (matters for run): {problem}", file=sys.stderr)


def fail(message: str, code: int = 2) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return code


def invoke(module: ModuleType, context: CommandContext, args: list[str], prog: str) -> int:
    """Run one command; FissionError and usage errors become one line on stderr."""
    show_traceback = "--traceback" in args
    args = [a for a in args if a != "--traceback"]
    try:
        result = module.app.main(args=args, prog_name=prog, obj=context, standalone_mode=False)
    except FissionError as exc:
        if show_traceback:
            raise
        return fail(str(exc), exc.returncode)
    except click.exceptions.Abort:
        return fail("aborted", 1)
    except click.UsageError as exc:
        if show_traceback:
            raise
        return fail(f"{exc.format_message()} (see: {prog} --help)", 2)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return int(result or 0)

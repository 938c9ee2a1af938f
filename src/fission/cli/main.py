"""Entry points: ``fission_admin.py``, a project's ``manage.py`` and the ``fission`` script.

Positions follow the original: ``manage.py <network> <command> [options]`` and
``fission_admin.py <project> startproject``. Unknown commands and networks get one line and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fission.cli.base import CommandContext, discover_commands, fail, invoke
from fission.core.errors import FissionError
from fission.core.loader import network_dir

__all__ = ["admin_main", "fission_main", "manage_main"]

PROJECT_COMMANDS = ("startproject",)


def _command_list(prog: str, scope_filter: tuple[str, ...]) -> str:
    commands = discover_commands()
    width = max(len(name) for name in commands)
    lines = []
    for name, module in sorted(commands.items()):
        if module.SCOPE in scope_filter:
            lines.append(f"  {name.ljust(width)}  {module.HELP}")
    return "\n".join(lines)


def _manage_help(prog: str) -> str:
    return (
        f"Usage: {prog} <network> <command> [options]\n\n"
        f"Commands:\n{_command_list(prog, ('network', 'new-network'))}\n\n"
        f"Run '{prog} <network> <command> --help' for a command's options.\n"
        f"Add --traceback to any command to see the Python traceback of an error."
    )


def manage_main(project_dir: Path, argv: list[str]) -> int:
    """``python3 manage.py <network> <command> [options]`` for the project in ``project_dir``."""
    prog = "manage.py"
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_manage_help(prog))
        return 0 if argv else 2
    network = argv[0]
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(_manage_help(prog))
        return 0 if len(argv) >= 2 else 2
    name, args = argv[1], argv[2:]
    commands = discover_commands()
    module = commands.get(name)
    if module is None or module.SCOPE == "project":
        hint = "" if module is None else f" (it is run as: fission_admin.py <project> {name})"
        return fail(f"unknown command '{name}'{hint}; see: python3 manage.py --help")
    context = CommandContext(project_dir=project_dir.resolve(), network=network)
    if module.SCOPE == "network" and not ({"-h", "--help"} & set(args)):
        try:
            network_dir(context.project_dir, network)
        except FissionError as exc:
            return fail(str(exc), exc.returncode)
    return invoke(module, context, args, f"{prog} {network} {name}")


def admin_main(argv: list[str] | None = None) -> int:
    """``fission_admin.py <project> startproject``."""
    argv = sys.argv[1:] if argv is None else argv
    prog = "fission_admin.py"
    if not argv or argv[0] in ("-h", "--help"):
        print(f"Usage: {prog} <project> startproject\n\nCreates a FISSION project folder.")
        return 0 if argv else 2
    if len(argv) < 2:
        return fail(f"missing command; usage: {prog} <project> startproject")
    project, name, rest = argv[0], argv[1], argv[2:]
    if name != "startproject":
        return fail(
            f"unknown command '{name}': {prog} only creates projects "
            f"(usage: {prog} <project> startproject); network commands run through the "
            f"project's manage.py"
        )
    module = discover_commands()["startproject"]
    return invoke(
        module,
        CommandContext(project_dir=Path.cwd()),
        [project, *rest],
        f"{prog} <project> startproject",
    )


def fission_main(argv: list[str] | None = None) -> int:
    """``fission <command> ...``: the commands that need no project yet (startproject, demo)."""
    argv = sys.argv[1:] if argv is None else argv
    commands = discover_commands()
    if not argv or argv[0] in ("-h", "--help"):
        project = _command_list("fission", ("project",))
        print(
            "Usage: fission <command> [options]\n\n"
            f"Commands:\n{project}\n\n"
            "Network commands run through a project's manage.py:\n"
            "  python3 manage.py <network> <command>   (see: python3 manage.py --help)"
        )
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    module = commands.get(name)
    if module is None or module.SCOPE != "project":
        return fail(f"unknown command '{name}'; see: fission --help")
    return invoke(module, CommandContext(project_dir=Path.cwd()), rest, f"fission {name}")

"""The settings of a network, read from its config.py, each with a default and a check.

``SETTINGS`` is the one table of every variable config.py may define; the startnetwork template
documents the same names (a test keeps the two in step). Settings marked ``run_only`` matter only
when the network runs on servers: their problems are collected in ``run_problems`` (``simulate``
shows them as warnings, ``run`` refuses to start). Names config.py defines that look like
settings but are none (a typo such as ``DEBUG_WINDOWS``) become ``warnings``.
"""

from __future__ import annotations

import ast
import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from fission.core.declaration import Location
from fission.core.errors import ConfigError

__all__ = ["SETTINGS", "Setting", "Settings", "assignment_lines"]


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    kind: tuple[type, ...]
    doc: str
    run_only: bool = False
    check: Callable[[Any], str | None] | None = None


def _log_level(value: Any) -> str | None:
    if isinstance(value, int) or str(value).upper() in logging.getLevelNamesMapping():
        return None
    return 'must be a logging level name such as "INFO" or "DEBUG"'


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _at_least_one(value: Any) -> str | None:
    return None if value >= 1 else "must be at least 1"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _scheduling(value: Any) -> str | None:
    return None if value in ("batch", "normal") else 'must be "batch" or "normal"'


def _one_byte_head(value: Any) -> str | None:
    # The head is the frame's flags byte: 1 is the only size that travels (the original's
    # larger heads were not honoured consistently either).
    return None if value == 1 else "must be 1: a block's head is one byte (3 flags, 5 user bits)"


SETTINGS: tuple[Setting, ...] = (
    Setting("USER", "pi", (str,), "user name on the servers", run_only=True),
    Setting("REMOTE_ROOT", "~/fission/", (str,), "working folder on the servers", run_only=True),
    Setting("LOG_LEVEL", "INFO", (str, int), "level of the client's log", check=_log_level),
    Setting("LOG_FILE", "FISSION.log", (str,), "client log, relative to the run folder"),
    Setting("CLIENT_IP", "", (str,), "this machine's address as the servers see it", run_only=True),
    Setting("DEBUG_WINDOW", False, (bool,), "show every job's output on the terminal"),
    Setting("JOBS", None, (list, tuple), "the jobs of the network"),
    Setting("NODES", [], (list, tuple), "the servers the network may use", run_only=True),
    Setting(
        "PRE_COPY", False, (bool,), "ship every job's files to every server at start", run_only=True
    ),
    Setting("XML_FILE", None, (str, type(None)), "MARVELO XML topology to import"),
    Setting("XML_ARGS", {}, (dict,), "tag and attribute names of the XML_FILE format"),
    Setting(
        "HEARTBEAT_PERIOD",
        0.5,
        (int, float),
        "seconds between server health checks",
        run_only=True,
        check=_positive,
    ),
    Setting(
        "HEARTBEAT_MISSES",
        2,
        (int,),
        "missed health checks before a server is dead",
        run_only=True,
        check=_at_least_one,
    ),
    Setting(
        "JOB_RESTARTS",
        3,
        (int,),
        "restarts of a crashing job before it is FAILED",
        run_only=True,
        check=_not_negative,
    ),
    Setting(
        "CREDIT_WINDOW",
        4096,
        (int,),
        "blocks in flight per pipe (backpressure)",
        check=_at_least_one,
    ),
    Setting(
        "CREDIT_BYTES", 16 * 1024 * 1024, (int,), "bytes in flight per pipe", check=_at_least_one
    ),
    Setting("HEAD_SIZE", 1, (int,), "bytes of a block's head", check=_one_byte_head),
    Setting(
        "JOB_SCHEDULING",
        "batch",
        (str,),
        "how Linux schedules the job hosts",
        check=_scheduling,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The validated settings of one network."""

    values: dict[str, Any] = field(default_factory=dict)
    config_file: str = "config.py"
    run_problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        if name in _BY_NAME:
            return self.values[name]
        raise AttributeError(name)

    @classmethod
    def from_module(cls, module: ModuleType) -> Settings:
        config_file = getattr(module, "__file__", None) or "config.py"
        lines = assignment_lines(config_file)
        values: dict[str, Any] = {}
        run_problems: list[str] = []
        for setting in SETTINGS:
            where = str(Location(config_file, lines.get(setting.name, 0)))
            if not hasattr(module, setting.name):
                if setting.name == "JOBS" and getattr(module, "XML_FILE", None) is not None:
                    values["JOBS"] = []  # the XML_FILE may hold every job
                    continue
                if setting.name == "JOBS":
                    raise ConfigError(
                        f"{Location(config_file, 0)}: defines no JOBS; add JOBS = [...] with "
                        f"the jobs of the network"
                    )
                values[setting.name] = setting.default
                continue
            value = getattr(module, setting.name)
            values[setting.name] = value
            problem = _problem(setting, value)
            if problem:
                message = f"{where}: {setting.name} {problem} ({setting.doc})"
                if not setting.run_only:
                    raise ConfigError(message)
                run_problems.append(message)
        values["NODES"] = _with_inventories(values["NODES"], config_file, lines, run_problems)
        run_problems += _node_problems(values["NODES"], config_file, lines)
        return cls(
            values=values,
            config_file=config_file,
            run_problems=tuple(run_problems),
            warnings=tuple(_unknown_names(module, config_file, lines)),
        )

    def problem(self, name: str) -> str | None:
        """What is wrong with setting ``name`` (for run-only settings needed elsewhere)."""
        return _problem(_BY_NAME[name], self.values[name])

    def log_level(self) -> int:
        level = self.values["LOG_LEVEL"]
        return level if isinstance(level, int) else logging.getLevelNamesMapping()[level.upper()]

    def log_path(self, run_folder: Path) -> Path:
        path = Path(self.values["LOG_FILE"]).expanduser()
        return path if path.is_absolute() else run_folder / path


def _problem(setting: Setting, value: Any) -> str | None:
    wrong_bool = isinstance(value, bool) and bool not in setting.kind
    if not isinstance(value, setting.kind) or wrong_bool:
        wanted = " or ".join("None" if k is type(None) else k.__name__ for k in setting.kind)
        return f"must be {wanted}, got {type(value).__name__} {value!r}"
    return setting.check(value) if setting.check is not None else None


def _with_inventories(
    nodes: Any, config_file: str, lines: dict[str, int], problems: list[str]
) -> Any:
    """NODES with each CSV inventory path (a string ending in .csv) replaced by its nodes."""
    from fission.core.nodes import read_inventory  # settings are read before nodes matter

    if not isinstance(nodes, (list, tuple)):
        return nodes
    expanded: list[Any] = []
    for entry in nodes:
        if isinstance(entry, (str, Path)) and str(entry).lower().endswith(".csv"):
            path = Path(entry).expanduser()
            if not path.is_absolute():
                path = Path(config_file).parent / path
            try:
                expanded.extend(read_inventory(path))
            except ConfigError as exc:
                problems.append(f"{Location(config_file, lines.get('NODES', 0))}: NODES: {exc}")
        else:
            expanded.append(entry)
    return expanded


def _node_problems(nodes: Any, config_file: str, lines: dict[str, int]) -> list[str]:
    from fission.core.nodes import BaseNode  # settings are read before nodes matter

    if not isinstance(nodes, (list, tuple)):
        return []
    where = str(Location(config_file, lines.get("NODES", 0)))
    return [
        f'{where}: NODES entry {position} is {node!r}, not a node such as BaseNode("10.0.0.2")'
        for position, node in enumerate(nodes, start=1)
        if not isinstance(node, BaseNode)
    ]


def _unknown_names(module: ModuleType, config_file: str, lines: dict[str, int]) -> list[str]:
    """Upper-case names assigned in config.py that are close to a setting: most likely typos."""
    known = [s.name for s in SETTINGS]
    found = []
    for name, line in sorted(lines.items(), key=lambda item: item[1]):
        if name in _BY_NAME or not name.isupper():
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        if close:  # other upper-case names are the user's own constants
            found.append(
                f"{Location(config_file, line)}: {name} is not a FISSION setting (ignored); "
                f"did you mean {close[0]}?"
            )
    return found


def assignment_lines(config_file: str) -> dict[str, int]:
    """Line of each top-level ``NAME = ...`` in config.py (for messages)."""
    try:
        tree = ast.parse(Path(config_file).read_text(), config_file)
    except (OSError, SyntaxError, ValueError):
        return {}
    lines: dict[str, int] = {}
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else ([node.target] if isinstance(node, ast.AnnAssign) else [])
        )
        for target in targets:
            if isinstance(target, ast.Name):
                lines[target.id] = node.lineno  # the last assignment is the one in force
    return lines

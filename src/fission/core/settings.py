"""The settings of a network, read from its config.py, each with a default and a check.

``SETTINGS`` is the one table of every variable config.py may define; the startnetwork template
documents the same names (a test keeps the two in step). Settings marked ``run_only`` matter only
when the network runs on servers: ``simulate`` checks their types but not their values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from fission.core.errors import ConfigError

__all__ = ["SETTINGS", "Setting", "Settings"]


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
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The validated settings of one network."""

    values: dict[str, Any] = field(default_factory=dict)
    config_file: str = "config.py"

    def __getattr__(self, name: str) -> Any:
        if name in _BY_NAME:
            return self.values[name]
        raise AttributeError(name)

    @classmethod
    def from_module(cls, module: ModuleType) -> Settings:
        config_file = getattr(module, "__file__", None) or "config.py"
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if not hasattr(module, setting.name):
                if setting.default is None and setting.name == "JOBS":
                    raise ConfigError(
                        f"{config_file}: defines no JOBS; add JOBS = [...] with the jobs of the "
                        f"network"
                    )
                values[setting.name] = setting.default
                continue
            value = getattr(module, setting.name)
            values[setting.name] = value
            problem = None
            is_bool = isinstance(value, bool)
            if not isinstance(value, setting.kind) or (is_bool and bool not in setting.kind):
                wanted = " or ".join(
                    "None" if k is type(None) else k.__name__ for k in setting.kind
                )
                problem = f"must be {wanted}, got {type(value).__name__} {value!r}"
            elif setting.check is not None:
                problem = setting.check(value)
            if problem:
                raise ConfigError(f"{config_file}: {setting.name} {problem} ({setting.doc})")
        return cls(values=values, config_file=config_file)

    def log_level(self) -> int:
        level = self.values["LOG_LEVEL"]
        return level if isinstance(level, int) else logging.getLevelNamesMapping()[level.upper()]

    def log_path(self, run_folder: Path) -> Path:
        path = Path(self.values["LOG_FILE"]).expanduser()
        return path if path.is_absolute() else run_folder / path

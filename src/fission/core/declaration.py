"""Where user objects were declared, and the scope that makes ``PicklePipe(101)`` one pipe.

Two rules kept here:

* A job or pipe remembers the file and line of the user code that created it, so that a
  configuration error can point at ``config.py:42`` instead of at FISSION's internals.
* Pipe ids are unique per *declaration scope*. Loading one config.py opens one scope: every
  ``SomePipe(101)`` inside it returns the same object. Nothing is cached across loads, so two
  networks (or two tests) never see each other's pipes. Outside any scope each call makes a new
  pipe, which is what unit tests of a single job want.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fission.core.jobs import BaseJob
    from fission.core.pipes import BasePipe

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Location:
    """A place in user code: file and line."""

    file: str
    line: int

    def __str__(self) -> str:
        try:
            shown = str(Path(self.file).resolve().relative_to(Path.cwd()))
        except ValueError:
            shown = self.file
        return f"{shown}:{self.line}" if self.line else shown


UNKNOWN = Location("<unknown>", 0)


def caller_location() -> Location:
    """Return the innermost frame outside the fission package (the user's declaration)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_ROOT) and not filename.startswith("<frozen"):
            return Location(filename, frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return UNKNOWN


@dataclass
class PipeScope:
    """The pipes (by id) and jobs declared during one config load."""

    config_file: str | None = None
    pipes: dict[int, BasePipe] = field(default_factory=dict)
    jobs: list[BaseJob] = field(default_factory=list)


_current_scope: ContextVar[PipeScope | None] = ContextVar("fission_pipe_scope", default=None)


def current_scope() -> PipeScope | None:
    """The declaration scope in force, if a config is being loaded."""
    return _current_scope.get()


@contextlib.contextmanager
def declaration_scope(config_file: str | None = None) -> Iterator[PipeScope]:
    """Open a fresh pipe-id scope for the duration of a config load."""
    scope = PipeScope(config_file=config_file)
    token = _current_scope.set(scope)
    try:
        yield scope
    finally:
        _current_scope.reset(token)


def describe(obj: Any) -> str:
    """Short user-facing name of a job or pipe with its declaration place."""
    where = getattr(obj, "declared_at", None)
    return f"{obj} ({where})" if where and where is not UNKNOWN else str(obj)

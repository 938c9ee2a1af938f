"""Errors FISSION reports to its users.

Every error a user can cause is a :class:`FissionError`; its message says where (config file and
line, job, pipe id) and what to do. The command line prints it on one line and exits with
``returncode``; anything else that escapes is a bug and keeps its traceback.

    FissionError
     +-- ConfigError          config.py cannot be loaded or declares an invalid network
     |    +-- PipeError       a pipe is declared or wired wrongly
     |    +-- JobError        a job is declared wrongly (e.g. run() cannot take its inputs)
     +-- ProjectError         the project or network folder is missing or already exists
     +-- RunError             a running network stopped because a job failed
     +-- ProtocolError        a peer sent bytes that break the wire protocol (remote fault)
          +-- AuthError       a peer failed the challenge-response
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "FissionError",
    "JobError",
    "PipeError",
    "ProjectError",
    "ProtocolError",
    "RunError",
]


class FissionError(Exception):
    """Base of every error caused by user input or a faulty peer."""

    returncode = 1


class ConfigError(FissionError):
    """The network's config.py cannot be loaded or describes an invalid network."""

    returncode = 2


class PipeError(ConfigError):
    """A pipe is declared or wired wrongly."""


class JobError(ConfigError):
    """A job is declared wrongly."""


class ProjectError(FissionError):
    """A project or network folder is missing, or would be overwritten."""

    returncode = 2


class RunError(FissionError):
    """A running network stopped because one of its jobs failed."""

    returncode = 1


class ProtocolError(FissionError):
    """A peer broke the wire protocol (malformed frame, wrong pipe, stale epoch)."""


class AuthError(ProtocolError):
    """A peer failed the challenge-response on the network secret."""

"""Reading the jobs' logs of a run folder: choosing the run, the jobs, merging and following.

Every line of a ``job.log`` starts with the time it was written (``HH:MM:SS``), then a mark
(space: stdout, ``!``: stderr, ``#``: FISSION's own note), then the text (see
:mod:`fission.client.output`). Lines of several jobs are merged by that time, each job's own
order kept. Following polls the files a few times a second: it works on any file system and
notices a run folder that a new run recreated (its ``info.txt`` is a new file then).
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fission.client.rundir import INFO, JOB_LOG, MARKER, RunInfo, RunJob, read_info
from fission.core.errors import ProjectError

__all__ = [
    "LogFollower",
    "default_run_folders",
    "latest_run",
    "merged_lines",
    "no_run",
    "select_jobs",
]

#: Run folders a network's commands create, in the order `logs` prefers them when equally new.
RUN_FOLDERS = ("simulation", "run")


def default_run_folders(network_dir: Path) -> list[Path]:
    return [network_dir / name for name in RUN_FOLDERS]


def _run_identity(folder: Path) -> tuple[int, int, int] | None:
    """Tells runs in one folder apart: (inode, creation time) of the run's marker file.

    The inode alone is not enough: a run folder that is removed and made again at once often
    gets its files' inode numbers back. None if ``folder`` holds no run (yet).
    """
    try:
        (folder / INFO).stat()
        marker = folder / MARKER
        status = marker.stat() if marker.exists() else (folder / INFO).stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino, status.st_mtime_ns)


def latest_run(candidates: Iterable[Path]) -> Path | None:
    """The candidate whose run started last, None if none holds a run."""
    best: tuple[int, Path] | None = None
    for folder in candidates:
        identity = _run_identity(folder)
        if identity is not None and (best is None or identity[2] > best[0]):
            best = (identity[2], folder)
    return best[1] if best else None


def no_run(candidates: list[Path]) -> str:
    """Says that none of ``candidates`` holds a run."""
    if len(candidates) == 1:
        return f"{candidates[0]} holds no run"
    return f"neither {' nor '.join(map(str, candidates))} holds a run"


class NoSuchJob(ProjectError):
    """The JOB argument matches no job of the run."""


def select_jobs(info: RunInfo, selector: str | None) -> list[RunJob]:
    """The jobs ``selector`` names: an id (``4``), a class name (``JoinJob``: every job of that
    class) or a display name (``JoinJob 4``); every job when it is None."""
    jobs = sorted(info.jobs.values(), key=lambda job: job.id)
    if selector is None:
        return jobs
    text = selector.strip()
    chosen = [job for job in jobs if text in (str(job.id), job.kind, job.name)]
    if not chosen:
        listed = ", ".join(job.name for job in jobs) or "none"
        raise NoSuchJob(
            f"no job '{selector}' in this run (its jobs: {listed}); give a job's id or class name"
        )
    return chosen


def _stamp(line: str) -> str:
    return line[:8]


def _prefixes(jobs: list[RunJob]) -> dict[int, str]:
    """``[Name id]`` padded to one width, or nothing when only one job is shown."""
    if len(jobs) == 1:
        return {jobs[0].id: ""}
    width = max(len(job.name) for job in jobs) + 2
    return {job.id: f"[{job.name}]".ljust(width) + " " for job in jobs}


def merged_lines(folder: Path, jobs: list[RunJob]) -> list[str]:
    """Every line the ``jobs`` logged, merged by time, prefixed by job when several."""
    prefixes = _prefixes(jobs)
    streams = []
    for job in jobs:
        try:
            text = (folder / str(job.id) / JOB_LOG).read_text(errors="replace")
        except OSError:
            continue
        streams.append([(prefixes[job.id], line) for line in text.splitlines()])
    return [prefix + line for prefix, line in heapq.merge(*streams, key=lambda p: _stamp(p[1]))]


@dataclass
class _Tail:
    """How far one log file has been read."""

    inode: int = 0
    offset: int = 0
    partial: bytes = b""


@dataclass
class LogFollower:
    """Follows the logs of the run in one of ``candidates`` (the newest run wins).

    :meth:`poll` returns the lines written since the last call, and notices on the way: a run
    that started (or a folder recreated by a new run), a selector matching no job.
    """

    candidates: list[Path]
    selector: str | None = None
    folder: Path | None = None
    _run: tuple[int, int, int] | None = None  # see _run_identity
    _jobs: list[RunJob] = field(default_factory=list)
    _tails: dict[int, _Tail] = field(default_factory=dict)

    def poll(self) -> tuple[list[str], list[str]]:
        """(new log lines, notices)."""
        notices: list[str] = []
        folder = latest_run(self.candidates)
        if folder is None:
            return [], notices
        run = _run_identity(folder)
        if run is None:
            return [], notices  # removed just now: the new run is being laid out
        if run != self._run or folder != self.folder:
            notices += self._start(folder, run)
        if not self._jobs:
            return [], notices
        prefixes = _prefixes(self._jobs)
        streams = []
        for job in self._jobs:
            lines = self._read(folder / str(job.id) / JOB_LOG, self._tails[job.id])
            streams.append([(prefixes[job.id], line) for line in lines])
        merged = heapq.merge(*streams, key=lambda p: _stamp(p[1]))
        return [prefix + line for prefix, line in merged], notices

    def _start(self, folder: Path, run: tuple[int, int, int]) -> list[str]:
        self.folder = folder
        self._run = run
        self._tails = {}
        self._jobs = []
        try:
            info = read_info(folder)
            self._jobs = select_jobs(info, self.selector)
        except ProjectError as exc:
            return [f"fission: {exc}; waiting for a run that has it (Ctrl+C stops)"]
        self._tails = {job.id: _Tail() for job in self._jobs}
        return [f"fission: following the run in {folder} (Ctrl+C stops)"]

    @staticmethod
    def _read(path: Path, tail: _Tail) -> list[str]:
        try:
            with path.open("rb") as handle:
                inode = os.fstat(handle.fileno()).st_ino
                if inode != tail.inode or os.fstat(handle.fileno()).st_size < tail.offset:
                    tail.inode, tail.offset, tail.partial = inode, 0, b""  # a new file
                handle.seek(tail.offset)
                data = handle.read()
        except OSError:
            return []
        tail.offset += len(data)
        *complete, tail.partial = (tail.partial + data).split(b"\n")
        return [line.decode(errors="replace") for line in complete]

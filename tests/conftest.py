"""Shared fixtures: throw-away projects and networks, and running manage.py like a user."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def run_interrupting(
    argv: list[str], timeout: float, input: str | None = None, **kwargs: object
) -> subprocess.CompletedProcess:
    """``subprocess.run`` that, on timeout, stops the command as a user would (Ctrl+C, then
    SIGKILL 60 s later) before it raises: `emulate` then removes its namespaces and processes
    instead of leaving them to the next tests."""
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if input is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )
    try:
        out, err = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        raise subprocess.TimeoutExpired(argv, timeout, output=out, stderr=err) from None
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


@dataclass
class Project:
    """A FISSION project created by fission_admin.py in a temporary folder."""

    root: Path

    def manage(self, *args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        return run_interrupting(
            [sys.executable, "manage.py", *args], cwd=self.root, timeout=timeout, **kwargs
        )

    def start(self, *args: str) -> subprocess.Popen:
        """Start manage.py in the background, in its own process group as a shell would (so
        ``os.killpg`` is what Ctrl+C on a terminal does); output lines collect in
        ``.lines`` and ``.errors``."""
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        process.lines = []  # type: ignore[attr-defined]
        process.errors = []  # type: ignore[attr-defined]
        for stream, sink in ((process.stdout, process.lines), (process.stderr, process.errors)):
            threading.Thread(target=_collect, args=(stream, sink), daemon=True).start()
        return process

    def network(self, name: str, jobs: str = "", config: str = "", pipes: str = "") -> Path:
        """Create network ``name`` with the given module sources (dedented)."""
        result = self.manage(name, "startnetwork")
        assert result.returncode == 0, result.stderr
        folder = self.root / name
        if jobs:
            (folder / "jobs" / "jobs.py").write_text(textwrap.dedent(jobs))
        if pipes:
            (folder / "pipes" / "pipes.py").write_text(textwrap.dedent(pipes))
        if config:
            (folder / "config.py").write_text(textwrap.dedent(config))
        return folder

    def copy_network(self, source: Path) -> Path:
        target = self.root / source.name
        shutil.copytree(source, target)
        return target


@pytest.fixture
def project(tmp_path: Path) -> Project:
    result = subprocess.run(
        [sys.executable, "-m", "fission.cli.admin", "proj", "startproject"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return Project(tmp_path / "proj")


def descendants(pid: int) -> set[int]:
    """Every living descendant process of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def _collect(stream, sink: list[str]) -> None:
    for line in stream:
        sink.append(line.rstrip("\n"))


def wait_for_line(process: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    """Wait until a line of the process's stdout contains ``needle``; returns the lines so far."""
    deadline = time.monotonic() + timeout
    lines: list[str] = process.lines  # type: ignore[attr-defined]
    while time.monotonic() < deadline:
        if any(needle in line for line in list(lines)):
            return list(lines)
        if process.poll() is not None:
            time.sleep(0.2)
            if any(needle in line for line in list(lines)):
                return list(lines)
            break
        time.sleep(0.02)
    errors = "\n".join(process.errors)  # type: ignore[attr-defined]
    raise AssertionError(
        f"{needle!r} not seen within {timeout} s; stdout:\n"
        + "\n".join(lines)
        + f"\nstderr:\n{errors}"
    )


@pytest.fixture
def reap() -> Iterator[list[subprocess.Popen]]:
    """Processes started by a test; killed (with their descendants) if still alive at the end."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            for pid in descendants(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.kill()
            process.wait()

"""Job output: every line a job prints goes to its log file and, in the debug window, to the
terminal prefixed by the job's name (the original opened a separate terminal for this; here the
client's own terminal is the window, so nothing depends on a terminal emulator).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

__all__ = ["JobOutput"]


class JobOutput:
    """Collects one job's stdout and stderr, line by line."""

    def __init__(
        self,
        name: str,
        log_path: Path,
        terminal: TextIO | None,
        width: int,
    ) -> None:
        self.name = name
        self.log = log_path.open("a", buffering=1)
        self.terminal = terminal
        self.prefix = f"[{name}]".ljust(width + 2)
        self._partial: dict[str, bytes] = {"out": b"", "err": b""}
        self._color = bool(terminal is not None and terminal.isatty())

    def feed(self, stream: str, data: bytes) -> None:
        """Take bytes read from the job's stdout (``out``) or stderr (``err``)."""
        data = self._partial[stream] + data
        *lines, rest = data.split(b"\n")
        self._partial[stream] = rest
        for line in lines:
            self.line(stream, line.decode(errors="replace"))

    def line(self, stream: str, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        marker = "!" if stream == "err" else " "
        self.log.write(f"{stamp}{marker} {text}\n")
        if self.terminal is not None:
            prefix = self.prefix
            if self._color:
                prefix = f"\x1b[{'31' if stream == 'err' else '36'}m{prefix}\x1b[0m"
            self.terminal.write(f"{prefix} {text}\n")
            self.terminal.flush()

    def note(self, text: str) -> None:
        """A line written by FISSION itself into the job's log (not shown on the terminal)."""
        for line in text.rstrip("\n").split("\n"):
            self.log.write(f"{time.strftime('%H:%M:%S')}# {line}\n")

    def close(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                self.line(stream, rest.decode(errors="replace"))
        self._partial = {"out": b"", "err": b""}
        self.log.close()

"""The live view: the directory of a running network on the terminal, at least once a second.

It only renders directory documents (:meth:`fission.client.directory.Snapshot.to_dict`); it
decides nothing. Two modes:

* *terminal* (stdout is a terminal, or ``force_terminal``): a rich ``Live`` display at the
  bottom of the terminal with servers, jobs, pipes, recent events and a scrolling pane of the
  jobs' printed lines. FISSION's own lines are printed above it. Refreshed by the supervisor's
  loop (no thread of its own), every :data:`TERMINAL_EVERY` seconds.
* *plain* (stdout is a pipe or a file): one summary line on stdout every
  :data:`PLAIN_EVERY` seconds; the jobs' lines keep going to stdout as before.

The same :func:`render` draws the table of ``manage.py <network> status``.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live
    from rich.text import Text

__all__ = ["LiveView", "OutputPane", "render", "summary_line"]

TERMINAL_EVERY = 0.5
PLAIN_EVERY = 1.0
#: Lines of job output kept for the pane.
OUTPUT_KEPT = 200
_STATE_STYLE = {
    "RUNNING": "green",
    "FINISHED": "blue",
    "STARTING": "yellow",
    "RESTARTING": "yellow",
    "PENDING": "magenta",
    "FAILED": "bold red",
    "STOPPED": "dim",
}


class OutputPane:
    """A file-like sink for the jobs' printed lines (what ``JobOutput`` writes to a terminal);
    keeps the last :data:`OUTPUT_KEPT` lines for the view."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=OUTPUT_KEPT)
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        self.lines.extend(lines)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False  # no colour codes: the view styles the lines itself


def _seconds(value: float) -> str:
    value = max(0, int(value))
    if value < 3600:
        return f"{value // 60}:{value % 60:02d}"
    return f"{value // 3600}h{value % 3600 // 60:02d}"


def _rate(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}"


def summary_line(document: dict[str, Any], limit: int = 6) -> str:
    """The plain mode's line: run state, job states, rounds, and the first pipes' figures."""
    jobs = document["jobs"]
    states: dict[str, int] = {}
    for job in jobs:
        states[job["state"]] = states.get(job["state"], 0) + 1
    counts = ", ".join(f"{n} {state}" for state, n in states.items())
    restarts = sum(job["restarts"] for job in jobs)
    up = _seconds(document["updated"] - document["started"])
    rounds = ", ".join(f"{j['name']} {j['id']}={j['rounds']}" for j in jobs[:limit])
    if len(jobs) > limit:
        rounds += f", +{len(jobs) - limit} more"
    pipes = "; ".join(
        f"{p['id']}: {_rate(p['blocks_per_s'])}/s lag {p['lag']} credit "
        f"{p['credit_used']}/{p['credit_window']} gaps {p['gaps']}"
        for p in document["pipes"][:limit]
    )
    if len(document["pipes"]) > limit:
        pipes += f"; +{len(document['pipes']) - limit} more"
    line = f"fission: {up} {document['state']} | jobs: {counts} | restarts {restarts}"
    line += f" | rounds {rounds}"
    if pipes:
        line += f" | pipes {pipes}"
    return line


Cell = str | tuple[str, str]  # text, or (text, rich style)


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[Text]:
    """A titled table as lines of text: left-aligned first columns (names), numbers right.

    Drawn by hand rather than with rich's Table, which takes ten times longer to lay out (the
    view is redrawn twice a second in the client's loop).
    """
    from rich.text import Text

    texts = [[(c, "") if isinstance(c, str) else c for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in texts:
        for k, (text, _style) in enumerate(row[: len(widths)]):
            widths[k] = max(widths[k], len(text))
    left = {k for k, h in enumerate(headers) if h in ("job", "server", "from", "to")}
    lines = [Text(title, style="italic")]
    heading = Text(style="bold")
    for k, header in enumerate(headers):
        aligned = header.ljust(widths[k]) if k in left else header.rjust(widths[k])
        heading.append(("  " if k else "") + aligned)
    lines.append(heading)
    lines.append(Text("─" * (sum(widths) + 2 * len(widths) - 2)))
    for row in texts:
        line = Text()
        for k, (text, style) in enumerate(row):
            if k:
                line.append("  ")
            line.append(text.ljust(widths[k]) if k in left else text.rjust(widths[k]), style)
        line.rstrip()
        lines.append(line)
    heading.rstrip()
    return lines


def render(
    document: dict[str, Any],
    output: Sequence[str] | None = None,
    height: int = 40,
    fit: bool = True,
) -> RenderableType:
    """The directory as tables; with ``output``, a pane of its last lines that fit.

    With ``fit``, a line too wide for the terminal ends in an ellipsis instead of taking two
    lines (the live display must keep its height)."""
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    jobs = document["jobs"]
    pipes = document["pipes"]
    servers = document["servers"]
    events = document["events"][-4:]
    running = sum(job["state"] == "RUNNING" for job in jobs)
    gaps = sum(pipe["gaps"] for pipe in pipes)
    header = Text.assemble(
        ("FISSION ", "bold"),
        (document["network"], "bold cyan"),
        f"  {document['state']}  up {_seconds(document['updated'] - document['started'])}",
        f"  {running}/{len(jobs)} jobs running",
        f"  {sum(job['restarts'] for job in jobs)} restart(s)",
        (f"  {gaps} gap(s)", "yellow" if gaps else ""),
    )

    # rows: the header, servers, events and 3 lines of output come first; jobs and pipes share
    # what is left (3 rows of each table are its title, heading and rule, and one may say how
    # many rows did not fit); the output pane takes the rest
    fixed = 1 + (len(servers) + 3) + (len(events) + 1 if events else 0)
    fixed += 5 if output is not None else 0
    share = max(4, height - fixed - 8)
    job_rows = min(len(jobs), max(2, share * len(jobs) // max(1, len(jobs) + len(pipes))))
    pipe_rows = min(len(pipes), max(2, share - job_rows))

    server_rows: list[list[Cell]] = [
        [
            server["name"],
            ("yes", "green") if server["alive"] else ("DEAD", "bold red"),
            str(server["jobs"]),
            "-" if server["slots"] is None else str(server["slots"]),
            f"{server['load']:.2f}",
        ]
        for server in servers
    ]
    job_cells: list[list[Cell]] = []
    for job in jobs[:job_rows]:
        age = job["last_report_s"]
        job_cells.append(
            [
                str(job["id"]),
                job["name"],
                job["server"],
                (job["state"], _STATE_STYLE.get(job["state"], "")),
                str(job["restarts"]),
                str(job["rounds"]),
                ("yes", "green") if job["live"] else ("-" if age is None else f"{age:.0f}s"),
            ]
        )
    if len(jobs) > job_rows:
        job_cells.append(["", f"... {len(jobs) - job_rows} more (manage.py status)"])
    pipe_cells: list[list[Cell]] = [
        [
            str(pipe["id"]),
            pipe["producer"],
            pipe["consumer"],
            _rate(pipe["blocks_per_s"]),
            f"{pipe['credit_used']}/{pipe['credit_window']}",
            str(pipe["lag"]),
            (str(pipe["gaps"]), "yellow" if pipe["gaps"] else ""),
        ]
        for pipe in pipes[:pipe_rows]
    ]
    if len(pipes) > pipe_rows:
        pipe_cells.append(["", f"... {len(pipes) - pipe_rows} more"])
    parts: list[Any] = [header]
    parts += _table("servers", ("server", "alive", "jobs", "slots", "load"), server_rows)
    parts += _table(
        "jobs", ("id", "job", "server", "state", "restarts", "rounds", "live"), job_cells
    )
    if pipes:
        parts += _table(
            "pipes", ("pipe", "from", "to", "blocks/s", "credit", "lag", "gaps"), pipe_cells
        )
    if events:
        parts.append(Text("events", style="italic"))
        parts.extend(
            Text(f"{time.strftime('%H:%M:%S', time.localtime(e['time']))} {e['text']}")
            for e in events
        )
    if output is not None:
        used = fixed - 5 + job_rows + (len(jobs) > job_rows) + pipe_rows + (len(pipes) > pipe_rows)
        room = max(3, height - used - 6 - 2)
        shown = list(output)[-room:]
        body = Text("\n".join(shown) if shown else "(no output yet)", no_wrap=True)
        parts.append(Panel(body, title="job output", title_align="left", box=box.SQUARE))
    for part in parts if fit else ():
        if isinstance(part, Text):
            part.no_wrap = True
            part.overflow = "ellipsis"
    return Group(*parts)


class LiveView:
    """Shows directory documents on ``stream`` (see the module docstring for the two modes)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        errors: TextIO | None = None,
        mode: str = "auto",
    ) -> None:
        """``mode``: ``auto`` (terminal if ``stream`` is one), ``terminal`` or ``plain``."""
        self.stream = stream if stream is not None else sys.stdout
        self.errors = errors if errors is not None else sys.stderr
        force_terminal = mode == "terminal"
        self.terminal = force_terminal or (mode == "auto" and _isatty(self.stream))
        self.interval = TERMINAL_EVERY if self.terminal else PLAIN_EVERY
        self.pane = OutputPane() if self.terminal else None
        #: show the pane (off when the jobs' output is not for the terminal: DEBUG_WINDOW off)
        self.show_output = True
        self._force = force_terminal
        self._live: Live | None = None
        self._last: dict[str, Any] | None = None
        self._broken = False

    def status(self, text: str) -> None:
        """One of FISSION's own lines: above the live display, and on stderr as always unless
        stderr is that same terminal (a program reading stderr, as ``emulate`` does, gets it)."""
        if self._live is not None:
            from rich.text import Text

            self._live.console.print(Text(text))
            if _isatty(self.errors):
                return
        print(text, file=self.errors, flush=True)

    def show(self, document: dict[str, Any]) -> None:
        self._last = document
        if not self.terminal:
            if not self._broken:
                try:
                    print(summary_line(document), file=self.stream, flush=True)
                except OSError:  # stdout went away (`simulate | head`): the run goes on
                    self._broken = True
            return
        if self._live is None:
            self._start()
        assert self._live is not None
        self._live.update(self._renderable(document), refresh=True)

    def close(self) -> None:
        """End the display; the last frame stays on the terminal."""
        if self._live is not None:
            if self._last is not None:
                self._live.update(self._renderable(self._last), refresh=True)
            self._live.stop()
            self._live = None

    def _renderable(self, document: dict[str, Any]) -> RenderableType:
        assert self._live is not None and self.pane is not None
        output = self.pane.lines if self.show_output else None
        return render(document, output, self._live.console.size.height)

    def _start(self) -> None:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self.stream, force_terminal=True if self._force else None)
        self._live = Live(
            console=console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            # a traceback printed to a terminal goes above the display; a piped stderr (emulate
            # reads it) is left alone
            redirect_stderr=_isatty(self.errors),
            vertical_overflow="crop",
        )
        self._live.start()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

"""Watching a run: keeps its directory fresh, serves it on the status socket, shows it live.

:func:`supervise` runs a :class:`~fission.client.supervisor.Simulation` (what ``simulate``,
``run`` and, through ``run``, ``emulate`` do) with a :class:`Monitor` attached. The monitor is
called once per turn of the supervisor's loop and builds a directory document only when
someone looks: when the view is due (twice a second on a terminal, once a second in plain
mode) or when a reader of the status socket waits. It costs the data plane nothing: the job
hosts report anyway, and the client only reads what they sent.
"""

from __future__ import annotations

import logging
import time
from typing import TextIO

from fission.client.directory import Directory
from fission.client.liveview import LiveView
from fission.client.statusserver import StatusServer
from fission.client.supervisor import Simulation

__all__ = ["Monitor", "supervise"]

log = logging.getLogger("fission.client")


class Monitor:
    """Attached to one Simulation: its directory, status socket and (optional) live view."""

    def __init__(self, sim: Simulation, view: LiveView | None) -> None:
        self.sim = sim
        self.view = view
        self.directory = Directory(sim.network)
        self.server: StatusServer | None = None
        self._next_show = 0.0
        status = sim.status

        def noted(text: str) -> None:
            self.directory.note_event(text)
            (view.status if view is not None else status)(text)

        sim.status = noted
        if view is not None and view.pane is not None:
            sim.terminal = view.pane  # the jobs' lines go to the view's pane
            view.show_output = bool(sim.network.settings.DEBUG_WINDOW)
        sim.watchers.append(self.tick)

    def tick(self, sim: Simulation) -> None:
        if self.server is None:
            self._start_server()  # now: the run folder was emptied when the run started
        assert self.server is not None
        wanted = self.server.wanted.is_set()
        now = time.monotonic()
        show = self.view is not None and now >= self._next_show
        if not (wanted or show):
            return
        document = self.directory.snapshot(sim).to_dict()
        if wanted:
            self.server.publish(document)
        if show and self.view is not None:
            self._next_show = now + self.view.interval
            self.view.show(document)

    def close(self) -> None:
        if self.view is not None:
            if self.server is not None:  # the run started: show how it ended
                self.view.show(self.directory.snapshot(self.sim).to_dict())
            self.view.close()
        if self.server is not None:
            self.server.close()

    def _start_server(self) -> None:
        server = StatusServer(self.sim.run_folder)
        try:
            server.start()
        except OSError as exc:  # the run goes on; only `status` will not see it
            log.warning("no status socket at %s: %s", server.address, exc)
            self.sim.status(f"fission: warning: `status` cannot reach this run: {exc}")
        self.server = server


def supervise(sim: Simulation, view: str = "auto", stream: TextIO | None = None) -> int:
    """Run ``sim`` with its directory served and the live view on ``stream`` (stdout by
    default); returns the run's exit code.

    Args:
        view: ``auto`` (the full view on a terminal, summary lines otherwise), ``terminal``
            (the full view whatever ``stream`` is), ``plain`` (summary lines) or ``off``.
    """
    shown = None if view == "off" else LiveView(stream, mode=view)
    monitor = Monitor(sim, shown)
    try:
        return sim.run()
    finally:
        monitor.close()

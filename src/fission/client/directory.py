"""The directory: what runs where, in which state, and how data flows, as frozen snapshots.

The supervisor owns the live state (its job records, placement and the progress each job host
reports twice a second); :class:`Directory` turns it into a :class:`Snapshot` on request.
Snapshots are what the live terminal view renders, what ``manage.py <network> status`` prints,
and, through :meth:`Snapshot.to_dict`, the versioned JSON document (``"schema": 1``, described
in docs/observability.md). Adding a field keeps the schema number; renaming or removing one,
or changing its meaning, increases it.

Pipe figures come from the counters both ends of a pipe already keep (nothing is counted per
block for them): blocks/s from the blocks the consumer received between two of its reports,
credit in use from the producer's unacknowledged blocks, lag from the producer's last sqn
against the rounds the consumer ran, gaps from the consumer.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fission.core.network import Network

if TYPE_CHECKING:
    from fission.client.supervisor import JobRecord, Simulation

__all__ = ["SCHEMA", "Directory", "Event", "JobEntry", "PipeEntry", "ServerEntry", "Snapshot"]

#: Version of the JSON document; see the module docstring for when it changes.
SCHEMA = 1
#: A job host that sent nothing for this long is not live (it reports twice a second).
SILENT_AFTER = 3.0
#: Failover and server events kept for the view and ``status``.
EVENTS_KEPT = 20


@dataclass(frozen=True)
class JobEntry:
    """One job of the directory."""

    id: int
    name: str
    kind: str
    server: str
    #: where the job host listens for its producers ("" until it is ready)
    endpoint: str
    #: PENDING, STARTING, RUNNING, RESTARTING, FAILED, FINISHED or STOPPED
    state: str
    epoch: int
    pid: int
    restarts: int
    #: rounds done (a source: blocks produced)
    rounds: int
    #: the process runs and reported within SILENT_AFTER seconds
    live: bool
    #: seconds since the job host's last report (None: nothing received yet)
    last_report_s: float | None
    inputs: list[int]
    outputs: list[int]
    error: str


@dataclass(frozen=True)
class PipeEntry:
    """One pipe of the directory."""

    id: int
    producer: str
    consumer: str
    #: blocks per second received by the consumer, between its last two reports
    blocks_per_s: float
    #: blocks sent and not yet acknowledged (the replay buffer), out of ``credit_window``
    credit_used: int
    credit_window: int
    unacked_bytes: int
    #: sqns the producer is ahead of what the consumer has processed
    lag: int
    #: sqns the consumer found missing (see docs/semantics.md, Gaps)
    gaps: int
    duplicates: int
    connected: bool


@dataclass(frozen=True)
class ServerEntry:
    """One server (``local`` under ``simulate``)."""

    name: str
    alive: bool
    #: job hosts running there
    jobs: int
    #: slots of the server (None: no limit, as for this machine under simulate)
    slots: int | None
    #: share of the slots in use; without slots, this machine's 1-minute load average per CPU
    load: float


@dataclass(frozen=True)
class Event:
    """Something that happened to the run (a restart, a server lost or back)."""

    time: float  # seconds since the epoch
    text: str


@dataclass(frozen=True)
class Snapshot:
    """The whole directory at one moment."""

    network: str
    run_folder: str
    client_pid: int
    #: RUNNING, or STOPPING once the run is ending
    state: str
    started: float  # seconds since the epoch
    updated: float  # seconds since the epoch
    jobs: list[JobEntry]
    pipes: list[PipeEntry]
    servers: list[ServerEntry]
    events: list[Event]
    schema: int = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The JSON document served by ``status --json`` (schema first).

        Shallow copies of the entries' fields (``dataclasses.asdict`` deep-copies, five times
        slower, and this runs twice a second under the live view)."""
        data: dict[str, Any] = {"schema": self.schema}
        for name, value in vars(self).items():
            if name != "schema":
                data[name] = [vars(e).copy() for e in value] if isinstance(value, list) else value
        return data


@dataclass
class Directory:
    """Builds snapshots of one running network; keeps the recent events."""

    network: Network
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    _started: float = field(default_factory=time.time)

    def note_event(self, text: str) -> None:
        """Record one of the supervisor's status lines (without the ``fission:`` prefix)."""
        self.events.append(Event(time.time(), text.removeprefix("fission: ").strip()))

    def snapshot(self, sim: Simulation) -> Snapshot:
        now = time.monotonic()
        records = sim.records
        placed = sim.placer is None  # under run, a job has a server only once it started
        jobs = [self._job(record, now, placed or record.pid != 0) for record in records.values()]
        pipes = [self._pipe(pipe_id, sim) for pipe_id in sorted(self.network.connections)]
        return Snapshot(
            network=self.network.name,
            run_folder=str(sim.run_folder),
            client_pid=os.getpid(),
            state="STOPPING" if sim._stopping_since else "RUNNING",
            started=self._started,
            updated=time.time(),
            jobs=jobs,
            pipes=pipes,
            servers=self._servers(sim),
            events=list(self.events),
        )

    # -- parts -----------------------------------------------------------------------------
    def _job(self, record: JobRecord, now: float, placed: bool) -> JobEntry:
        job = record.job
        assert job.id is not None
        seen = record.last_seen
        age = round(now - seen, 2) if seen else None
        live = record.alive and age is not None and age < SILENT_AFTER
        return JobEntry(
            id=job.id,
            name=job.name,
            kind=type(job).__name__,
            server=record.server if placed else "",
            endpoint=record.endpoint,
            state=record.state,
            epoch=record.epoch,
            pid=record.os_pid,
            restarts=record.restarts,
            rounds=int(record.stats.get("round", 0)),
            live=live,
            last_report_s=age,
            inputs=[p.id for p in job.inputs],
            outputs=[p.id for p in job.outputs],
            error=record.error,
        )

    def _pipe(self, pipe_id: int, sim: Simulation) -> PipeEntry:
        connection = self.network.connections[pipe_id]
        producer = sim.records[connection.producer.id]
        consumer = sim.records[connection.consumer.id]
        sent = producer.stats.get("outputs", {}).get(str(pipe_id), {})
        got = consumer.stats.get("inputs", {}).get(str(pipe_id), {})
        block_count = next(p.block_count for p in consumer.job.inputs if p.id == pipe_id)
        last = int(sent.get("last", 0))
        acked = int(sent.get("acked", 0))
        processed = int(consumer.stats.get("round", 0)) * block_count
        return PipeEntry(
            id=pipe_id,
            producer=producer.job.name,
            consumer=consumer.job.name,
            blocks_per_s=float(got.get("per_s", 0.0)) if consumer.state == "RUNNING" else 0.0,
            credit_used=max(0, last - acked) if sent else 0,
            credit_window=int(sim.network.settings.CREDIT_WINDOW),
            unacked_bytes=int(sent.get("unacked_bytes", 0)),
            lag=max(0, last - processed) if sent and consumer.stats else 0,
            gaps=int(got.get("gaps", 0)),
            duplicates=int(got.get("duplicates", 0)),
            connected=bool(sent.get("connected", False)),
        )

    def _servers(self, sim: Simulation) -> list[ServerEntry]:
        running: dict[str, int] = {}
        for record in sim.records.values():
            if record.alive:
                running[record.server] = running.get(record.server, 0) + 1
        if sim.placer is None:
            names = sorted(running) or ["local"]
            load = os.getloadavg()[0] / (os.cpu_count() or 1)
            return [
                ServerEntry(name, True, running.get(name, 0), None, round(load, 2))
                for name in names
            ]
        entries = []
        for name, server in sorted(sim.placer.servers.items()):
            jobs = running.get(name, 0)
            entries.append(
                ServerEntry(
                    name=name,
                    alive=server.alive,
                    jobs=jobs,
                    slots=server.slots,
                    load=round(len(server.jobs) / server.slots, 2) if server.slots else 0.0,
                )
            )
        return entries

"""Built-in jobs under `simulate`: a ClockJob driving two sources in lockstep, a LoggingJob's
log rows in a LoggingSinkJob's CSV, ForwardingJob and DistributingJob."""

from __future__ import annotations

import csv

JOBS = """
from fission.core.jobs import LoggingJob, PythonJob


class Counter(PythonJob):
    '''Driven by the clock: one value per tick.'''

    def __init__(self, step, **kwargs):
        super().__init__(**kwargs)
        self.step = step
        self.value = 0

    def run(self, tick):
        self.value += self.step * tick
        return self.value


class Product(LoggingJob):
    def run_job(self, a, b):
        return (a, b, a * b)
"""

CONFIG = """
from fission.core.jobs import (
    ClockJob, CSVSinkJob, DistributingJob, ForwardingJob, LoggingSinkJob,
)
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Counter, Product

JOBS = [
    ClockJob(outputs=[PicklePipe(1)], clock_interval=0.05, count=6),
    DistributingJob(inputs=[PicklePipe(1)], outputs=[PicklePipe(2), PicklePipe(3)]),
    Counter(1, inputs=[PicklePipe(2)], outputs=[PicklePipe(4)]),
    Counter(10, inputs=[PicklePipe(3)], outputs=[PicklePipe(5)]),
    ForwardingJob(inputs=[PicklePipe(4), PicklePipe(5)], outputs=[PicklePipe(6), PicklePipe(7)]),
    Product(inputs=[PicklePipe(6), PicklePipe(7)],
            outputs=[PicklePipe(10), PicklePipe(11), PicklePipe(8)],
            logging_output=PicklePipe(9)),
    CSVSinkJob("values.csv", inputs=[PicklePipe(10), PicklePipe(11), PicklePipe(8)]),
    LoggingSinkJob("log.csv", inputs=[PicklePipe(9)]),
]
"""


def test_clock_logging_forwarding(project):
    folder = project.network("net", jobs=JOBS, config=CONFIG)
    result = project.manage("net", "simulate", timeout=60)
    assert result.returncode == 0, result.stderr
    run = folder / "simulation"
    assert (run / "7" / "values.csv").read_text() == "pipe_10,pipe_11,pipe_8\n" + "".join(
        f"{n},{10 * n},{10 * n * n}\n" for n in range(1, 7)
    )
    with open(run / "8" / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["round"] for row in rows] == [str(n) for n in range(1, 7)]
    assert {row["job"] for row in rows} == {"Product 6"}
    for row in rows:
        assert float(row["time_out"]) >= float(row["time_in"])
        assert float(row["delay"]) >= 0 and float(row["cpu"]) >= 0
        assert int(row["maxrss_kib"]) > 0


ATTRIBUTE_JOBS = """
from fission.core.jobs import PythonJob


class Source(PythonJob):
    def run(self):
        yield from (1, 2)


class Show(PythonJob):
    THRESHOLD = 1

    def run(self, value):
        with open("seen.txt", "a") as handle:
            handle.write(f"{value} {self.THRESHOLD} {self.label} {type(self).GROUPS}\\n")
"""

ATTRIBUTE_CONFIG = """
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Show, Source

Show.THRESHOLD = 7          # a class attribute changed in config.py
Show.GROUPS = ["MIC", "ALL"]
show = Show(inputs=[PicklePipe(1)])
show.label = "left"         # an attribute set on the object after it was made

JOBS = [Source(outputs=[PicklePipe(1)]), show]
"""


def test_attributes_set_in_config_reach_the_job_process(project):
    folder = project.network("net", jobs=ATTRIBUTE_JOBS, config=ATTRIBUTE_CONFIG)
    result = project.manage("net", "simulate", timeout=60)
    assert result.returncode == 0, result.stderr
    seen = (folder / "simulation" / "2" / "seen.txt").read_text()
    assert seen == "1 7 left ['MIC', 'ALL']\n2 7 left ['MIC', 'ALL']\n"

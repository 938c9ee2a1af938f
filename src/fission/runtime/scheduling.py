"""How Linux schedules a job host: as a batch process, for throughput.

Under the default policy a process that wakes another (a block written into its socket or
pipe) is often preempted by it at once, on a machine with fewer cores than busy processes
(4 processes of a 3-job chain with an executable in the middle, on 2 cores). Every block then
costs context switches on both sides. SCHED_BATCH keeps the running process on its core
until its time slice ends or it waits, so each process gets more work done per wake-up.
A woken process still runs at once on an idle core, so a lightly loaded network's latency
does not change. Setting it needs no privileges; JOB_SCHEDULING = "normal" leaves the
default policy.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["schedule_as_batch"]


def schedule_as_batch() -> bool:
    """Put the calling thread, and the threads and processes it starts from now on, under
    SCHED_BATCH; False where this system has no such policy."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return False
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, policy, os.sched_param(0))
        return True
    return False

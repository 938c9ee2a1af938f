"""The job host's allocator setting: buffers of a few hundred KiB, freed and allocated again
and again (socket reads, batches of a program's output), stop costing page faults."""

from __future__ import annotations

import subprocess
import sys

CHURN = """
import resource, sys
from fission.runtime.allocator import keep_freed_buffers

def faults_per_round():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(100):
        batch = [bytearray(512 * 1024) for _ in range(8)]  # allocated and touched together
        del batch  # and freed together
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 100

untuned = faults_per_round()
assert keep_freed_buffers()
faults_per_round()  # the first round after tuning may still grow the heap once
print(untuned, faults_per_round())
"""


def test_freed_buffers_are_kept_instead_of_costing_page_faults_again():
    result = subprocess.run(
        [sys.executable, "-c", CHURN], capture_output=True, text=True, check=True
    )
    untuned, tuned = map(float, result.stdout.split())
    # glibc gives 4 MiB back to the kernel at each free (its own thresholds adapt to a single
    # buffer, not to several), and faults them in again: 1024 pages per round at most
    assert untuned > 100
    assert tuned < 1

"""Unit-testing jobs without starting a network (new in FISSION; the API may still grow).

``feed(job, [1, 2, 3])`` runs one job on the blocks given for each input; ``run_jobs([...],
inputs={7: [...]})`` runs several jobs wired by their pipes. Both run in the test's own
process, round by round exactly as a job host does (see :mod:`fission.testing.harness`).
``manage.py <network> test`` runs a network's ``tests/`` with the pytest plugin
:mod:`fission.testing.plugin`, whose fixtures ``feed``, ``run_jobs`` and ``fission_network``
wrap these for a test.
"""

from fission.testing.harness import Blocks as Blocks
from fission.testing.harness import GraphResult as GraphResult
from fission.testing.harness import HarnessError as HarnessError
from fission.testing.harness import JobResult as JobResult
from fission.testing.harness import feed as feed
from fission.testing.harness import run_jobs as run_jobs

__all__ = ["Blocks", "GraphResult", "HarnessError", "JobResult", "feed", "run_jobs"]

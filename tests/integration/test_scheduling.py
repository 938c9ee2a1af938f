"""JOB_SCHEDULING: job hosts run under SCHED_BATCH by default, under Linux's default policy
with "normal" (see fission.runtime.scheduling)."""

from __future__ import annotations

import os

import pytest

JOBS = """
import os
from fission.core.jobs import PythonJob


class Policy(PythonJob):
    def run(self):
        yield os.sched_getscheduler(0)


class Show(PythonJob):
    def run(self, source_policy):
        print("policies", source_policy, os.sched_getscheduler(0), flush=True)
"""


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, os.SCHED_BATCH), ('"batch"', os.SCHED_BATCH), ('"normal"', os.SCHED_OTHER)],
)
def test_job_hosts_run_under_the_configured_scheduling_policy(project, setting, expected):
    project.network(
        "net",
        jobs=JOBS,
        config=f"""
        from fission.core.pipes import PicklePipe
        from net.jobs.jobs import Policy, Show

        JOBS = [Policy(outputs=[PicklePipe(1)]), Show(inputs=[PicklePipe(1)])]
        {"" if setting is None else f"JOB_SCHEDULING = {setting}"}
        """,
    )
    result = project.manage("net", "simulate", "--debug-window", "--quiet", timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"policies {expected} {expected}" in result.stdout


def test_an_unknown_scheduling_policy_is_a_config_error(project):
    project.network(
        "net",
        jobs=JOBS,
        config="""
        from fission.core.pipes import PicklePipe
        from net.jobs.jobs import Policy, Show

        JOBS = [Policy(outputs=[PicklePipe(1)]), Show(inputs=[PicklePipe(1)])]
        JOB_SCHEDULING = "fast"
        """,
    )
    result = project.manage("net", "simulate", "--quiet", timeout=60)
    assert result.returncode != 0
    assert 'JOB_SCHEDULING must be "batch" or "normal"' in result.stderr
    assert "Traceback" not in result.stderr

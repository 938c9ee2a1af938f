"""Validation of the job graph: every mistake is rejected before anything starts, naming the
config line, the job and the pipe id."""

from __future__ import annotations

import re

import pytest

from fission.core.errors import ConfigError, JobError, PipeError


def test_valid_network_numbers_jobs_in_config_order(load):
    network = load(
        """
        JOBS = [
            Source(outputs=[PicklePipe(1)]),
            Middle(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
            Sink(inputs=[PicklePipe(2)]),
        ]
        """
    )
    assert [job.id for job in network.jobs] == [1, 2, 3]
    assert [job.name for job in network.jobs] == ["Source 1", "Middle 2", "Sink 3"]
    assert network.connections[1].producer is network.jobs[0]
    assert network.connections[2].consumer is network.jobs[2]
    assert sorted(network.graph.edges(keys=True)) == [(1, 2, 1), (2, 3, 2)]
    assert [job.name for job in network.sinks()] == ["Sink 3"]


def test_same_id_is_the_same_pipe_object(load):
    network = load(
        """
        a = PicklePipe(7)
        b = PicklePipe(7)
        assert a is b
        JOBS = [Source(outputs=[a]), Sink(inputs=[b])]
        """
    )
    assert network.connections[7].pipe is network.jobs[0].outputs[0]


def test_pipe_scope_is_per_load(tmp_path, load):
    first = load("JOBS = [Source(outputs=[PicklePipe(1)]), Sink(inputs=[PicklePipe(1)])]")
    second = load("JOBS = [Source(outputs=[PicklePipe(1)]), Sink(inputs=[PicklePipe(1)])]")
    assert first.connections[1].pipe is not second.connections[1].pipe


def test_same_id_with_another_pipe_type(load):
    with pytest.raises(PipeError) as info:
        load(
            """
            JOBS = [
                Source(outputs=[PicklePipe(5)]),
                Sink(inputs=[JSONPipe(5)]),
            ]
            """
        )
    message = str(info.value)
    assert "pipe 5" in message and "JSONPipe" in message and "PicklePipe" in message
    assert re.search(r"config\.py:\d+", message)


def test_pipe_without_consumer(load):
    with pytest.raises(PipeError) as info:
        load(
            """
            JOBS = [
                Source(outputs=[PicklePipe(3)]),
                Middle(inputs=[PicklePipe(3)], outputs=[PicklePipe(4)]),
            ]
            """
        )
    message = str(info.value)
    assert (
        "pipe 4" in message
        and "Middle 2" in message
        and "no job in JOBS has it as an input" in message
    )
    assert "config.py:" in message


def test_pipe_without_producer(load):
    with pytest.raises(PipeError, match=r"config\.py:\d+: pipe 9 is an input of Sink 1 but no job"):
        load("JOBS = [Sink(inputs=[PicklePipe(9)])]")


def test_producer_declared_but_not_listed_in_jobs_is_named(load):
    with pytest.raises(
        PipeError, match=r"Source created at .*config\.py:\d+ has it, but .*not listed"
    ):
        load(
            """
            forgotten = Source(outputs=[PicklePipe(9)])
            JOBS = [Sink(inputs=[PicklePipe(9)])]
            """
        )


def test_two_producers(load):
    with pytest.raises(PipeError) as info:
        load(
            """
            JOBS = [
                Source(outputs=[PicklePipe(1)]),
                Source(outputs=[PicklePipe(1)]),
                Sink(inputs=[PicklePipe(1)]),
            ]
            """
        )
    message = str(info.value)
    assert "pipe 1 has two producers" in message
    assert "Source 2" in message and "Source 1" in message


def test_two_consumers(load):
    with pytest.raises(PipeError, match="pipe 1 has two consumers: Sink 3 and Sink 2"):
        load(
            """
            JOBS = [
                Source(outputs=[PicklePipe(1)]),
                Sink(inputs=[PicklePipe(1)]),
                Sink(inputs=[PicklePipe(1)]),
            ]
            """
        )


def test_job_feeding_itself(load):
    with pytest.raises(PipeError, match="Middle 2 has pipe 2 as both input and output"):
        load(
            """
            JOBS = [
                Source(outputs=[PicklePipe(1)]),
                Middle(inputs=[PicklePipe(2)], outputs=[PicklePipe(2)]),
                Sink(inputs=[PicklePipe(1)]),
            ]
            """
        )


def test_cycle_is_rejected(load):
    with pytest.raises(PipeError, match="cycle"):
        load(
            """
            JOBS = [
                Join(inputs=[PicklePipe(1), PicklePipe(3)], outputs=[PicklePipe(2)]),
                Middle(inputs=[PicklePipe(2)], outputs=[PicklePipe(3)]),
                Source(outputs=[PicklePipe(1)]),
            ]
            """
        )


def test_run_signature_cannot_take_inputs(load):
    with pytest.raises(JobError) as info:
        load(
            """
            JOBS = [
                Source(outputs=[PicklePipe(1)]),
                Source(outputs=[PicklePipe(2)]),
                Middle(inputs=[PicklePipe(1), PicklePipe(2)], outputs=[PicklePipe(3)]),
                Sink(inputs=[PicklePipe(3)]),
            ]
            """
        )
    message = str(info.value)
    assert "Middle 3.run(self, value) cannot take its 2 input(s)" in message
    assert "PicklePipe(1), PicklePipe(2)" in message
    assert re.search(r"config\.py:\d+", message)


def test_run_without_parameters_for_a_consumer(load):
    with pytest.raises(JobError, match="NoArgs 2.run"):
        load("JOBS = [Source(outputs=[PicklePipe(1)]), NoArgs(inputs=[PicklePipe(1)])]")


def test_variadic_run_takes_any_number_of_inputs(load):
    network = load(
        """
        JOBS = [
            Source(outputs=[PicklePipe(1)]),
            Source(outputs=[PicklePipe(2)]),
            Source(outputs=[PicklePipe(3)]),
            Variadic(inputs=[PicklePipe(1), PicklePipe(2), PicklePipe(3)]),
        ]
        """
    )
    assert len(network.jobs[3].inputs) == 3


def test_generator_run_only_for_sources(load):
    with pytest.raises(JobError, match="GeneratorMiddle 2.run is a generator"):
        load(
            """
            JOBS = [
                Source(outputs=[PicklePipe(1)]),
                GeneratorMiddle(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
                Sink(inputs=[PicklePipe(2)]),
            ]
            """
        )


def test_job_without_pipes(load):
    with pytest.raises(JobError, match="neither inputs nor outputs"):
        load("JOBS = [Sink()]")


def test_jobs_must_hold_jobs(load):
    with pytest.raises(ConfigError, match="JOBS entry 2 is 'oops', not a job"):
        load("JOBS = [Source(outputs=[PicklePipe(1)]), 'oops', Sink(inputs=[PicklePipe(1)])]")


def test_same_job_object_listed_twice(load):
    with pytest.raises(ConfigError, match="listed twice in JOBS"):
        load(
            """
            sink = Sink(inputs=[PicklePipe(1)])
            JOBS = [Source(outputs=[PicklePipe(1)]), sink, sink]
            """
        )


def test_bad_pipe_id(load):
    with pytest.raises(
        PipeError, match=r"config\.py:\d+: PicklePipe\('7'\): a pipe id must be a positive integer"
    ):
        load("JOBS = [Source(outputs=[PicklePipe('7')])]")


def test_inputs_must_be_pipes(load):
    with pytest.raises(JobError, match="inputs must contain pipes"):
        load("JOBS = [Sink(inputs=[101])]")


def test_bytes_pipe_sizes_must_agree(load):
    with pytest.raises(PipeError, match="pipe 1 is declared with block size 32"):
        load("JOBS = [Source(outputs=[BytesPipe(1, 64)]), Sink(inputs=[BytesPipe(1, 32)])]")


def test_bytes_pipe_needs_a_size(load):
    with pytest.raises(PipeError, match="needs a block size"):
        load("JOBS = [Source(outputs=[BytesPipe(1)]), Sink(inputs=[BytesPipe(1)])]")


def test_longer_cycles_are_named(load):
    with pytest.raises(PipeError) as info:
        load(
            """
            JOBS = [
                Source(outputs=[PicklePipe(1)]),
                Join(inputs=[PicklePipe(1), PicklePipe(4)], outputs=[PicklePipe(2)]),
                Middle(inputs=[PicklePipe(2)], outputs=[PicklePipe(3)]),
                Middle(inputs=[PicklePipe(3)], outputs=[PicklePipe(4)]),
            ]
            """
        )
    message = str(info.value)
    assert "the pipes form a cycle" in message
    assert "Join 2 (pipe 2)" in message and "Middle 3 (pipe 3)" in message
    assert "Middle 4 (pipe 4)" in message

"""Pipes shared by the example networks (import them as shared.pipes.pipes)."""

from fission.core.pipes import PicklePipe


class ReducePipe(PicklePipe):
    """Five values per round for the consumer."""

    BLOCK_COUNT = 5

"""Pipes of the extended seed network."""

import pickle

from fission.core.pipes import OptionalPicklePipe, PicklePipe


class ReducePipe(PicklePipe):
    BLOCK_COUNT = 5


class OperatorPipe(OptionalPicklePipe):
    """The operator typed on the client: '*' until something else is typed, then the latest."""

    OPTIONAL_DEFAULT = "*"
    OPTIONAL_BUFFER_SIZE = 1

    def pack(self, data):
        text = str(data).strip()
        return pickle.dumps(text if text in ("+", "*") else "*")

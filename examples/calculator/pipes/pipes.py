"""The optional operator pipe (in the style of the original's demo_network_v4)."""

import pickle

from fission.core.pipes import OptionalPicklePipe


class OperatorPipe(OptionalPicklePipe):
    """'+' until something else is typed; then always the latest operator typed."""

    OPTIONAL_DEFAULT = "+"
    OPTIONAL_BUFFER_SIZE = 1

    def pack(self, data):
        # runs in the InteractiveJob: anything but a known operator becomes '+'
        text = str(data).strip()
        return pickle.dumps(text if text in ("+", "-", "*") else "+")

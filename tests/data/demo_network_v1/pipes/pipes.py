# Compatibility fixture: the seed tutorial's pipe, as a user types it (see tests/README.md).
from fission.core.pipes import PicklePipe


class ReducePipe(PicklePipe):
    BLOCK_COUNT = 5

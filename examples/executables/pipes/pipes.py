"""Pipes of the executables example."""

import struct

from fission.core.pipes import BytesPipe


class IntPipe(BytesPipe):
    """One signed 32-bit little-endian integer per block: what a C program would fread."""

    BLOCK_SIZE = 4

    def pack(self, value):
        return struct.pack("<i", value)

    def unpack(self, data):
        return struct.unpack("<i", data)[0]

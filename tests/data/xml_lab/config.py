import struct

from fission.core.jobs import PythonJob
from fission.core.pipes import BytesPipe


class IntPipe(BytesPipe):
    """One little-endian 32-bit integer per block."""

    BLOCK_SIZE = 4

    def pack(self, value):
        return struct.pack("<i", value)

    def unpack(self, data):
        return struct.unpack("<i", data)[0]


class Count(PythonJob):
    def run(self):
        yield from range(1, 6)


class Show(PythonJob):
    def run(self, value):
        print("doubled:", value)


JOBS = [Count(outputs=[IntPipe(1)]), Show(inputs=[IntPipe(2)])]
XML_FILE = "topology.xml"

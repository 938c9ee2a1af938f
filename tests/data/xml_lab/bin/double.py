import argparse
import os
import struct

parser = argparse.ArgumentParser()
parser.add_argument("-i", type=int, action="append", required=True)
parser.add_argument("-o", type=int, action="append", required=True)
args = parser.parse_args()

with os.fdopen(args.i[0], "rb") as source, os.fdopen(args.o[0], "wb") as target:
    while block := source.read(4):
        (value,) = struct.unpack("<i", block)
        target.write(struct.pack("<i", 2 * value))
        target.flush()  # hand each block on at once

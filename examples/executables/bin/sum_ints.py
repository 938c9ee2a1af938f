"""sum_ints.py -i A -i B -o OUT: adds two streams of int32 blocks, each block preceded by its
one-byte head; marks sums of 20 or more with user bit 7 (value 0x01) of the head it writes.

A stand-in for a program in any language: it only reads and writes bytes on named pipes.
"""

import argparse
import struct

parser = argparse.ArgumentParser()
parser.add_argument("-i", action="append", required=True)
parser.add_argument("-o", action="append", required=True)
args = parser.parse_args()
inputs = [open(path, "rb") for path in args.i]
output = open(args.o[0], "wb")
while True:
    heads, values = [], []
    for stream in inputs:
        block = stream.read(5)
        if len(block) < 5:
            raise SystemExit(0)  # end of the inputs: done
        heads.append(block[0])
        values.append(struct.unpack("<i", block[1:])[0])
    total = sum(values)
    head = (heads[0] | heads[1]) & 0x80  # keep "corrupted" if an input had it
    if total >= 20:
        head |= 0x01
    output.write(bytes([head]) + struct.pack("<i", total))
    output.flush()  # one block out per round: the job host waits for it

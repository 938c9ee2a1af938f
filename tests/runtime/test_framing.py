"""Frames: encoding, incremental decoding, and rejection of malformed input."""

from __future__ import annotations

import pytest

from fission.core.errors import ProtocolError
from fission.runtime.framing import HEADER_SIZE, FrameDecoder, Kind, encode


def test_roundtrip_split_at_every_byte():
    stream = b"".join(
        encode(Kind.DATA, 7, sqn, bytes([sqn]) * sqn, flags=sqn & 0xFF) for sqn in range(1, 20)
    )
    for cut in range(len(stream)):
        decoder = FrameDecoder()
        frames = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert [f.sqn for f in frames] == list(range(1, 20))
        assert all(f.payload == bytes([f.sqn]) * f.sqn and f.pipe == 7 for f in frames)
        assert decoder.pending == 0


def test_incomplete_frame_waits():
    decoder = FrameDecoder()
    data = encode(Kind.DATA, 1, 1, b"hello")
    assert decoder.feed(data[:-1]) == []
    assert decoder.pending == len(data) - 1
    (frame,) = decoder.feed(data[-1:])
    assert frame.payload == b"hello"


def test_unknown_kind_is_a_protocol_error():
    bad = bytearray(encode(Kind.DATA, 1, 1, b"x"))
    bad[0] = 250
    with pytest.raises(ProtocolError, match="unknown frame kind 250"):
        FrameDecoder().feed(bytes(bad))


def test_oversized_length_is_rejected_before_buffering():
    decoder = FrameDecoder(max_payload=1024)
    header = encode(Kind.DATA, 1, 1, b"")[: HEADER_SIZE - 4] + (10**9).to_bytes(4, "little")
    with pytest.raises(ProtocolError, match="exceeds the 1024 limit"):
        decoder.feed(header)

"""The control channel between the client and a job host: authenticated JSON messages.

Messages are CONTROL frames with a JSON object payload carrying a ``"type"``:

job host -> client
    ``ready``     {job, epoch, endpoint}      listening, setup() done
    ``state``     {job, epoch, state, ...}    RUNNING / FINISHED / FAILED (with ``traceback``)
    ``stats``     {job, epoch, round, inputs, outputs, ...}   progress, twice a second
    ``heartbeat`` {job, epoch}

client -> job host
    ``peers``     {outputs: {pipe: [endpoint, epoch]}, inputs: {pipe: epoch}}
    ``stop``      {}                          finish now: teardown, close, exit
    ``heartbeat`` {}

The client never sends code or pickles over this channel.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import Any

from fission.core.errors import ProtocolError
from fission.runtime.framing import Frame, FrameDecoder, Kind, encode

__all__ = ["ControlChannel", "decode_message", "encode_message"]

CONTROL_LIMIT = 16 * 1024 * 1024


def encode_message(message: dict[str, Any]) -> bytes:
    return encode(Kind.CONTROL, 0, 0, json.dumps(message, separators=(",", ":")).encode())


def decode_message(frame: Frame) -> dict[str, Any]:
    if frame.kind != Kind.CONTROL:
        raise ProtocolError(f"expected a CONTROL frame, got kind {frame.kind}")
    try:
        message = json.loads(frame.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"malformed control message: {exc}") from None
    if not isinstance(message, dict) or "type" not in message:
        raise ProtocolError("malformed control message: no type")
    return message


class ControlChannel:
    """A blocking, thread-safe message channel over an authenticated socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._send_lock = threading.Lock()
        self._decoder = FrameDecoder(CONTROL_LIMIT)
        self._inbox: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> bool:
        """Send one message; False if the connection is gone."""
        data = encode_message(message)
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                return False
        return True

    def receive(self) -> dict[str, Any] | None:
        """Next message, blocking; None when the peer closed the connection."""
        while not self._inbox:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self._inbox.extend(decode_message(f) for f in self._decoder.feed(data))
        return self._inbox.pop(0)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

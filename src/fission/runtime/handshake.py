"""Mutual challenge-response on the network secret, done before any frame is trusted.

The connecting side (a producer, or a job host calling the client) and the accepting side each
prove they know the secret without sending it::

    connector -> acceptor   HELLO      {nonce_c, ...facts: pipe, epochs, ...}
    acceptor  -> connector  CHALLENGE  {nonce_s, proof_a, ...answer}
    connector -> acceptor   PROOF      {proof_c}

    proof_a = HMAC(k, "A" | nonce_c | nonce_s | hello | answer)
    proof_c = HMAC(k, "C" | nonce_s | nonce_c | hello | answer)

The MACs bind both nonces and every fact exchanged, so a recorded handshake cannot be replayed
and the facts (pipe id, epochs, resume point) cannot be altered in transit. Both payloads are
small JSON documents read with a size limit; nothing is unpickled. Until the PROOF checks out,
the acceptor reads nothing else from the connection.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
from collections.abc import Callable
from typing import Any

from fission.core.errors import AuthError, ProtocolError
from fission.runtime.framing import HEADER, HEADER_SIZE, Kind, encode

__all__ = ["accept", "connect", "recv_exactly", "recv_json_frame", "send_json_frame"]

HANDSHAKE_LIMIT = 64 * 1024
PROTOCOL_VERSION = 1


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """Read exactly ``size`` bytes; a peer closing early is a ProtocolError."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProtocolError(
                f"peer closed the connection mid-frame ({len(chunks)} of {size} bytes)"
            )
        chunks += chunk
    return bytes(chunks)


def send_json_frame(sock: socket.socket, kind: Kind, message: dict[str, Any]) -> None:
    sock.sendall(encode(kind, 0, 0, json.dumps(message, separators=(",", ":")).encode()))


def recv_json_frame(
    sock: socket.socket, kind: Kind, limit: int = HANDSHAKE_LIMIT
) -> dict[str, Any]:
    header = recv_exactly(sock, HEADER_SIZE)
    got_kind, _flags, _pipe, _sqn, length = HEADER.unpack(header)
    if got_kind != kind:
        raise ProtocolError(f"expected a {kind.name} frame, got kind {got_kind}")
    if length > limit:
        raise ProtocolError(f"{kind.name} frame of {length} bytes exceeds the {limit} limit")
    try:
        message = json.loads(recv_exactly(sock, length))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"malformed {kind.name} frame: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"malformed {kind.name} frame: not an object")
    return message


def _mac(secret: bytes, role: bytes, first: str, second: str, *facts: dict[str, Any]) -> str:
    text = json.dumps(facts, sort_keys=True, separators=(",", ":")).encode()
    message = b"|".join([role, first.encode(), second.encode(), text])
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def connect(sock: socket.socket, secret: bytes, facts: dict[str, Any]) -> dict[str, Any]:
    """Run the connector's side; returns the acceptor's answer (already authenticated)."""
    nonce_c = secrets.token_hex(16)
    hello = {"v": PROTOCOL_VERSION, "nonce": nonce_c, **facts}
    send_json_frame(sock, Kind.HELLO, hello)
    challenge = recv_json_frame(sock, Kind.CHALLENGE)
    if "error" in challenge:
        raise ProtocolError(f"peer refused the connection: {challenge['error']}")
    nonce_s = str(challenge.get("nonce", ""))
    answer = challenge.get("answer", {})
    expected = _mac(secret, b"A", nonce_c, nonce_s, hello, answer)
    if not hmac.compare_digest(expected, str(challenge.get("proof", ""))):
        raise AuthError("the peer does not know this network's secret")
    send_json_frame(
        sock, Kind.PROOF, {"proof": _mac(secret, b"C", nonce_s, nonce_c, hello, answer)}
    )
    return dict(answer)


def accept(
    sock: socket.socket,
    secret: bytes,
    decide: Callable[[dict[str, Any]], dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the acceptor's side.

    ``decide(hello)`` returns the answer to send back, or raises ProtocolError to refuse (the
    reason is sent to the peer). Returns ``(hello, answer)`` once the peer proved itself.
    """
    hello = recv_json_frame(sock, Kind.HELLO)
    if hello.get("v") != PROTOCOL_VERSION:
        send_json_frame(sock, Kind.CHALLENGE, {"error": "unsupported protocol version"})
        raise ProtocolError(f"peer speaks protocol version {hello.get('v')!r}")
    try:
        answer = decide(hello)
    except ProtocolError as exc:
        send_json_frame(sock, Kind.CHALLENGE, {"error": str(exc)})
        raise
    nonce_s = secrets.token_hex(16)
    nonce_c = str(hello.get("nonce", ""))
    proof = _mac(secret, b"A", nonce_c, nonce_s, hello, answer)
    send_json_frame(sock, Kind.CHALLENGE, {"nonce": nonce_s, "proof": proof, "answer": answer})
    reply = recv_json_frame(sock, Kind.PROOF)
    expected = _mac(secret, b"C", nonce_s, nonce_c, hello, answer)
    if not hmac.compare_digest(expected, str(reply.get("proof", ""))):
        raise AuthError("the peer does not know this network's secret")
    return hello, answer

"""Challenge-response over real sockets: both sides must know the secret; nothing else is read."""

from __future__ import annotations

import socket
import threading

import pytest

from fission.core.errors import AuthError, ProtocolError
from fission.runtime import handshake
from fission.runtime.framing import Kind, encode

SECRET = b"s" * 32


def run_acceptor(sock, secret, decide=lambda hello: {"ok": 1}):
    outcome = {}

    def target():
        try:
            outcome["result"] = handshake.accept(sock, secret, decide)
        except Exception as exc:  # the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def pair():
    a, b = socket.socketpair()
    a.settimeout(2)
    b.settimeout(2)
    return a, b


def test_both_sides_authenticate_and_exchange_facts():
    a, b = pair()
    thread, outcome = run_acceptor(b, SECRET, lambda hello: {"resume_from": hello["pipe"] + 1})
    answer = handshake.connect(a, SECRET, {"pipe": 41})
    thread.join()
    hello, sent = outcome["result"]
    assert hello["pipe"] == 41 and sent == answer == {"resume_from": 42}


def test_wrong_secret_on_the_connector_side():
    a, b = pair()
    thread, outcome = run_acceptor(b, SECRET)
    with pytest.raises(AuthError):
        handshake.connect(a, b"x" * 32, {"pipe": 1})
    a.close()
    thread.join()
    assert isinstance(outcome["error"], ProtocolError)  # never authenticated


def test_wrong_secret_on_the_acceptor_side():
    a, b = pair()
    thread, outcome = run_acceptor(b, b"y" * 32)
    with pytest.raises(AuthError):
        handshake.connect(a, SECRET, {"pipe": 1})
    a.close()
    thread.join()
    assert "error" in outcome


def test_refusal_reason_reaches_the_connector():
    def decide(hello):
        raise ProtocolError("stale epoch 1")

    a, b = pair()
    thread, _ = run_acceptor(b, SECRET, decide)
    with pytest.raises(ProtocolError, match="stale epoch 1"):
        handshake.connect(a, SECRET, {"pipe": 1})
    thread.join()


def test_data_frames_before_the_handshake_are_rejected():
    a, b = pair()
    thread, outcome = run_acceptor(b, SECRET)
    a.sendall(encode(Kind.DATA, 1, 1, b"\x80\x04K\x01."))  # a pickle, sent unauthenticated
    thread.join()
    assert isinstance(outcome["error"], ProtocolError)
    assert "expected a HELLO frame" in str(outcome["error"])


def test_peer_closing_mid_handshake():
    a, b = pair()
    thread, outcome = run_acceptor(b, SECRET)
    a.sendall(encode(Kind.HELLO, 0, 0, b'{"v": 1')[:10])
    a.close()
    thread.join()
    assert "closed the connection mid-frame" in str(outcome["error"])


def test_garbage_json_is_rejected():
    a, b = pair()
    thread, outcome = run_acceptor(b, SECRET)
    a.sendall(encode(Kind.HELLO, 0, 0, b"\xff\xfe not json"))
    thread.join()
    assert "malformed HELLO" in str(outcome["error"])

"""The data plane under real conditions: two networks at once, backpressure from a slow
consumer, and hostile or broken peers connecting to a running job host."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest
from tests.conftest import wait_for_line

from fission.runtime import handshake
from fission.runtime.framing import HEADER, Kind, encode

JOBS = """
import json
import os
import resource
import time
from fission.core.jobs import PythonJob


class Count(PythonJob):
    def __init__(self, count, size=0, **kwargs):
        super().__init__(**kwargs)
        self.count = count
        self.size = size

    def run(self):
        block = os.urandom(self.size) if self.size else None
        for value in range(1, self.count + 1):
            yield block if block else value

    def teardown(self):
        with open("rss.json", "w") as handle:
            json.dump(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, handle)


class Tally(PythonJob):
    def __init__(self, delay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    def setup(self):
        self.count = 0
        self.total = 0

    def run(self, value):
        self.count += 1
        self.total += value if isinstance(value, int) else len(value)
        if self.delay:
            time.sleep(self.delay)
        if self.count % 500 == 0:
            print("tally", self.count, flush=True)

    def teardown(self):
        with open("tally.json", "w") as handle:
            json.dump({"count": self.count, "total": self.total}, handle)
"""


def chain_config(count: int, size: int = 0, delay: float = 0.0, window: int = 4096) -> str:
    pipe = f"BytesPipe(1, {size})" if size else "PicklePipe(1)"
    return f"""
from fission.core.pipes import PicklePipe, BytesPipe
from net.jobs.jobs import Count, Tally

JOBS = [
    Count({count}, {size}, outputs=[{pipe}]),
    Tally({delay}, inputs=[{pipe}]),
]
CREDIT_WINDOW = {window}
CREDIT_BYTES = 4 * 1024 * 1024
DEBUG_WINDOW = True
LOG_LEVEL = "DEBUG"
"""


def tally(folder) -> dict:
    return json.loads((folder / "simulation" / "2" / "tally.json").read_text())


def test_two_networks_simulate_at_once(project, reap):
    first = project.network("net", jobs=JOBS, config=chain_config(200_000))
    second = project.network(
        "other", jobs=JOBS, config=chain_config(200_000).replace("net.jobs", "other.jobs")
    )
    one = project.start("net", "simulate")
    two = project.start("other", "simulate")
    reap.extend([one, two])
    assert one.wait(timeout=60) == 0, "\n".join(one.errors)
    assert two.wait(timeout=60) == 0, "\n".join(two.errors)
    expected = {"count": 200_000, "total": 200_000 * 200_001 // 2}
    assert tally(first) == expected
    assert tally(second) == expected


def test_slow_consumer_throttles_its_producer(project):
    # 3000 blocks of 64 KiB = 192 MiB pushed at a consumer taking 1 ms per block: with a
    # 4 MiB credit window the producer must wait, so its memory stays far below 192 MiB.
    folder = project.network("net", jobs=JOBS, config=chain_config(3000, 64 * 1024, 0.001))
    result = project.manage("net", "simulate", timeout=120)
    assert result.returncode == 0, result.stderr
    assert tally(folder) == {"count": 3000, "total": 3000 * 64 * 1024}
    producer_rss_kib = json.loads((folder / "simulation" / "1" / "rss.json").read_text())
    assert producer_rss_kib < 80 * 1024, f"producer grew to {producer_rss_kib} KiB"


@pytest.fixture
def running_sink(project, reap):
    """A network whose sink waits on a source that starts slowly; yields (folder, endpoint)."""
    jobs = (
        JOBS
        + """

class Slowly(PythonJob):
    def run(self):
        for value in range(1, 4):
            time.sleep(1.5)
            yield value
"""
    )
    config = """
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Slowly, Tally

JOBS = [Slowly(outputs=[PicklePipe(1)]), Tally(inputs=[PicklePipe(1)])]
LOG_LEVEL = "INFO"
"""
    folder = project.network("net", jobs=jobs, config=config)
    process = project.start("net", "simulate")
    reap.append(process)
    log = folder / "simulation" / "FISSION.log"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        found = re.search(r"Tally 2 ready at unix:@(\S+)", text)
        if found and "all 2 jobs ready" in text:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the sink never became ready")
    secret = (project.root / ".fission" / "secret").read_text().strip()
    yield folder, "\0" + found.group(1), bytes.fromhex(secret), process


def dial(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(3)
    sock.connect(address)
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_hostile_and_broken_peers_do_not_hurt_the_job(running_sink):
    folder, address, secret, process = running_sink
    # 1. bytes that are not a handshake (a pickle that would run code if unpickled)
    evil = dial(address)
    evil.sendall(encode(Kind.DATA, 1, 1, b"cos\nsystem\n(S'touch /tmp/pwned'\ntR."))
    assert closed_by_peer(evil)
    # 2. the wrong secret
    wrong = dial(address)
    with pytest.raises(Exception, match="does not know this network's secret|closed"):
        handshake.connect(
            wrong,
            b"w" * 32,
            {"role": "producer", "pipe": 1, "producer_epoch": 1, "consumer_epoch": 0, "acked": 0},
        )
    # 3. a pipe the job does not have
    stranger = dial(address)
    with pytest.raises(Exception, match="has no input pipe 99"):
        handshake.connect(
            stranger,
            secret,
            {"role": "producer", "pipe": 99, "producer_epoch": 1, "consumer_epoch": 0, "acked": 0},
        )
    # 4. a stale producer epoch (fenced off)
    stale = dial(address)
    with pytest.raises(Exception, match="producer epoch 7 is stale"):
        handshake.connect(
            stale,
            secret,
            {"role": "producer", "pipe": 1, "producer_epoch": 7, "consumer_epoch": 0, "acked": 0},
        )
    # 5. a handshake cut off mid-frame
    cut = dial(address)
    cut.sendall(encode(Kind.HELLO, 0, 0, b'{"v": 1, "pipe": 1}')[:12])
    cut.close()
    # the real producer's connection is untouched: all blocks arrive
    assert process.wait(timeout=20) == 0, "\n".join(process.errors)
    assert tally(folder) == {"count": 3, "total": 6}
    log = (folder / "simulation" / "2" / "job.log").read_text()
    assert log.count("rejected a connection to Tally 2") >= 5
    assert "expected a HELLO frame" in log
    assert not __import__("os").path.exists("/tmp/pwned")


def test_authenticated_peer_sending_a_malformed_frame(running_sink):
    folder, address, secret, process = running_sink
    # An authenticated connection for pipe 1 replaces the real producer's; a frame naming
    # another pipe is a protocol error: that connection is dropped, the job survives, and the
    # real producer reconnects and delivers everything.
    peer = dial(address)
    handshake.connect(
        peer,
        secret,
        {"role": "producer", "pipe": 1, "producer_epoch": 1, "consumer_epoch": 0, "acked": 0},
    )
    peer.sendall(HEADER.pack(Kind.DATA, 0, 55, 1, 3) + b"abc")
    assert closed_by_peer(peer)
    assert process.wait(timeout=20) == 0, "\n".join(process.errors)
    assert tally(folder) == {"count": 3, "total": 6}
    log = (folder / "simulation" / "2" / "job.log").read_text()
    assert "malformed frame" in log


def test_first_block_of_a_sleeping_source_is_not_held_back(project, reap):
    # The seed's source yields and then sleeps a second: its block must not wait for the sleep.
    jobs = """
import time
from fission.core.jobs import PythonJob


class Tick(PythonJob):
    def run(self):
        value = 0
        while True:
            value += 1
            yield time.time()
            time.sleep(2)


class Stamp(PythonJob):
    def run(self, sent):
        print(f"delay {time.time() - sent:.4f}", flush=True)
"""
    config = """
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Tick, Stamp

JOBS = [Tick(outputs=[PicklePipe(1)]), Stamp(inputs=[PicklePipe(1)])]
DEBUG_WINDOW = True
"""
    project.network("net", jobs=jobs, config=config)
    process = project.start("net", "simulate")
    reap.append(process)
    lines = wait_for_line(process, "delay", timeout=20)
    delay = float(next(line for line in lines if "delay" in line).split()[-1])
    process.terminate()
    process.wait(timeout=5)
    assert delay < 0.5


def test_an_idle_consumer_acknowledges_what_it_did_without_being_woken(project):
    # Pickled 64 KiB values fill the 1 MiB byte window with 16 blocks, far fewer than an
    # acknowledgement step (CREDIT_WINDOW / 8: their size is not known in advance): the sink
    # takes them and waits with all 16 unacknowledged. It must acknowledge them within
    # ACK_AFTER of its own accord: nothing else would wake it, and the producer, out of
    # credit, would wait for ever.
    config = (
        chain_config(800)
        .replace("Count(800, 0,", "Count(800, 65536,")
        .replace("4 * 1024 * 1024", "1024 * 1024")
    )
    assert "Count(800, 65536, outputs=[PicklePipe(1)])" in config
    folder = project.network("net", jobs=JOBS, config=config)
    result = project.manage("net", "simulate", timeout=60)
    assert result.returncode == 0, result.stderr
    assert tally(folder) == {"count": 800, "total": 800 * 65536}

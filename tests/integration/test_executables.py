"""Executable jobs under `simulate`, with real programs: a C filter compiled here (named pipes),
a Python program given descriptor numbers (MARVELO style), a shell-script source, and programs
that fail in the ways programs do."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

SCALE_C = r"""
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* scale -f FACTOR [-s SIZE] -i IN -o OUT: multiplies the little-endian int64 at the start of
   every SIZE-byte block (8 by default) by FACTOR, and passes the rest of the block on as is */
int main(int argc, char **argv) {
    const char *in = 0, *out = 0;
    long factor = 1, size = 8;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-i")) in = argv[i + 1];
        else if (!strcmp(argv[i], "-o")) out = argv[i + 1];
        else if (!strcmp(argv[i], "-f")) sscanf(argv[i + 1], "%ld", &factor);
        else if (!strcmp(argv[i], "-s")) sscanf(argv[i + 1], "%ld", &size);
    }
    FILE *src = fopen(in, "rb"), *dst = fopen(out, "wb");
    char *block = malloc(size);
    if (!src || !dst || !block || size < 8) { perror("scale: open"); return 2; }
    int64_t value;
    while (fread(block, size, 1, src) == 1) {
        memcpy(&value, block, sizeof value);
        value *= factor;
        memcpy(block, &value, sizeof value);
        fwrite(block, size, 1, dst);
        fflush(dst);
    }
    return 0;
}
"""

PIPES = """
import struct

from fission.core.pipes import BytesPipe


class Int64Pipe(BytesPipe):
    BLOCK_SIZE = 8

    def pack(self, value):
        return struct.pack("<q", value)

    def unpack(self, data):
        return struct.unpack("<q", data)[0]
"""

JOBS = """
from fission.core.jobs import ExecutableJob, LocalJob, PythonJob


class Numbers(PythonJob):
    def __init__(self, count, **kwargs):
        super().__init__(**kwargs)
        self.count = count

    def run(self):
        yield from range(1, self.count + 1)


class Scale(ExecutableJob):
    EXECUTABLE = "scale"
    PARAMETERS = "-f 3"
    DEPENDENCIES = "bin"


class Show(LocalJob, PythonJob):
    def run(self, *values):
        print("got", *values)
"""


def _compile_scale(root) -> None:
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "these tests build a C program: install gcc (apt-get install gcc)"
    (root / "bin").mkdir()
    (root / "scale.c").write_text(SCALE_C)
    subprocess.run(
        [gcc, "-O2", "-o", str(root / "bin" / "scale"), str(root / "scale.c")], check=True
    )


def _got(stdout: str) -> list[str]:
    return [line.split("got ", 1)[1] for line in stdout.splitlines() if "got " in line]


def test_a_c_program_in_the_middle_of_a_chain(project):
    _compile_scale(project.root)
    project.network(
        "exe",
        jobs=JOBS,
        pipes=PIPES,
        config="""
        from exe.jobs.jobs import Numbers, Scale, Show
        from exe.pipes.pipes import Int64Pipe

        JOBS = [
            Numbers(200, outputs=[Int64Pipe(1)]),
            Scale(inputs=[Int64Pipe(1)], outputs=[Int64Pipe(2)]),
            Show(inputs=[Int64Pipe(2)]),
        ]
        """,
    )
    result = project.manage("exe", "simulate", "--debug-window")
    assert result.returncode == 0, result.stderr
    assert _got(result.stdout) == [str(3 * n) for n in range(1, 201)]


SUM_PY = """
import argparse, json, os

parser = argparse.ArgumentParser()
parser.add_argument("-i", action="append", type=int)
parser.add_argument("-o", action="append", type=int)
args = parser.parse_args()
inputs = [os.fdopen(fd, "r") for fd in args.i]
output = os.fdopen(args.o[0], "w")
for lines in zip(*inputs):
    output.write(json.dumps(sum(json.loads(line) for line in lines)) + "\\n")
    output.flush()
"""


def test_a_dynamic_marvelo_job_sums_two_inputs_given_descriptor_numbers(project):
    tools = project.root / "tools"
    tools.mkdir()
    (tools / "sum.py").write_text(SUM_PY)
    project.network(
        "exe",
        jobs=JOBS,
        config="""
        from fission.core.jobs import DynamicMARVELOJob
        from fission.core.pipes import JSONPipe
        from exe.jobs.jobs import Numbers, Show

        JOBS = [
            Numbers(50, outputs=[JSONPipe(1)]),
            Numbers(50, outputs=[JSONPipe(2)]),
            DynamicMARVELOJob(
                executable="python3 sum.py",
                dependencies="tools",
                inputs=[JSONPipe(1), JSONPipe(2)],
                outputs=[JSONPipe(3)],
            ),
            Show(inputs=[JSONPipe(3)]),
        ]
        """,
    )
    result = project.manage("exe", "simulate", "--debug-window")
    assert result.returncode == 0, result.stderr
    assert _got(result.stdout) == [str(2 * n) for n in range(1, 51)]


def test_a_shell_script_source_ends_the_stream_when_it_exits(project):
    tools = project.root / "tools"
    tools.mkdir()
    script = tools / "count.sh"
    script.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            # count.sh -o PATH: three JSON lines, then done
            [ "$1" = "-o" ] || { echo "usage: count.sh -o PATH" >&2; exit 2; }
            for word in '"one"' '"two"' '"three"'; do echo "$word"; done > "$2"
            """
        )
    )
    script.chmod(0o755)
    project.network(
        "exe",
        jobs=JOBS
        + """
class Count(ExecutableJob):
    EXECUTABLE = "count.sh"
    DEPENDENCIES = ["tools"]
""",
        config="""
        from fission.core.pipes import JSONPipe
        from exe.jobs.jobs import Count, Show

        JOBS = [Count(outputs=[JSONPipe(1)]), Show(inputs=[JSONPipe(1)])]
        """,
    )
    result = project.manage("exe", "simulate", "--debug-window")
    assert result.returncode == 0, result.stderr
    assert _got(result.stdout) == ["one", "two", "three"]


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        (
            "python3 -c \"import sys; sys.stderr.write('bad input\\\\n'); sys.exit(3)\"",
            "the program 'python3' exited with status 3",
        ),
        ("./no-such-program", "cannot start './no-such-program': not found"),
    ],
    ids=["exits-with-an-error", "missing"],
)
def test_a_failing_program_fails_its_job_with_its_stderr(project, program, expected):
    project.network(
        "exe",
        jobs=JOBS,
        pipes=PIPES,
        config=f"""
        from fission.core.jobs import DynamicExecutableJob
        from exe.jobs.jobs import Numbers, Show
        from exe.pipes.pipes import Int64Pipe

        JOBS = [
            Numbers(5, outputs=[Int64Pipe(1)]),
            DynamicExecutableJob(
                executable={program!r}, inputs=[Int64Pipe(1)], outputs=[Int64Pipe(2)]
            ),
            Show(inputs=[Int64Pipe(2)]),
        ]
        """,
    )
    result = project.manage("exe", "simulate")
    assert result.returncode == 1
    assert "job DynamicExecutableJob 2 failed" in result.stderr
    assert expected in result.stderr
    if "status 3" in expected:
        assert "bad input" in result.stderr  # the tail of its stderr comes with the report
    assert "Traceback" not in result.stderr.split("failed", 1)[1].split("\n")[0]


def test_an_executable_job_without_a_program_is_a_config_error(project):
    project.network(
        "exe",
        jobs=JOBS + "\n\nclass Nothing(ExecutableJob):\n    pass\n",
        pipes=PIPES,
        config="""
        from exe.jobs.jobs import Nothing, Numbers, Show
        from exe.pipes.pipes import Int64Pipe

        JOBS = [
            Numbers(5, outputs=[Int64Pipe(1)]),
            Nothing(inputs=[Int64Pipe(1)], outputs=[Int64Pipe(2)]),
            Show(inputs=[Int64Pipe(2)]),
        ]
        """,
    )
    result = project.manage("exe", "simulate")
    assert result.returncode != 0
    assert "config.py:7: Nothing 2 has no EXECUTABLE" in result.stderr


def test_a_long_stream_through_a_c_program_fed_ahead_stays_exact(project):
    # one fixed-size input: the job host gives the program up to 64 received blocks ahead of
    # its rounds; every round must still get the output of its own input, none lost or doubled
    _compile_scale(project.root)
    project.network(
        "exe",
        jobs=JOBS
        + """

class Total(LocalJob, PythonJob):
    def setup(self):
        self.count = self.total = 0
        self.ordered = True
        self.last = 0

    def run(self, value):
        self.count += 1
        self.total += value
        self.ordered = self.ordered and value == self.last + 3
        self.last = value

    def teardown(self):
        print("total", self.count, self.total, self.ordered, flush=True)
""",
        pipes=PIPES,
        config="""
        from exe.jobs.jobs import Numbers, Scale, Total
        from exe.pipes.pipes import Int64Pipe

        JOBS = [
            Numbers(50000, outputs=[Int64Pipe(1)]),
            Scale(inputs=[Int64Pipe(1)], outputs=[Int64Pipe(2)]),
            Total(inputs=[Int64Pipe(2)]),
        ]
        """,
    )
    result = project.manage("exe", "simulate", "--debug-window", "--quiet")
    assert result.returncode == 0, result.stderr
    n = 50000
    assert f"total {n} {3 * n * (n + 1) // 2} True" in result.stdout


def test_a_sink_program_that_dies_fails_its_job_instead_of_hanging(project):
    # it stops reading after three blocks: writes to its FIFO must fail, not wait for ever
    project.network(
        "exe",
        jobs=JOBS,
        pipes=PIPES,
        config="""
        from fission.core.jobs import DynamicExecutableJob
        from exe.jobs.jobs import Numbers
        from exe.pipes.pipes import Int64Pipe

        JOBS = [
            Numbers(50000, outputs=[Int64Pipe(1)]),
            DynamicExecutableJob(
                executable='python3 -c "import sys; f = open(sys.argv[2], \\'rb\\'); '
                'f.read(24); sys.exit(4)"',
                inputs=[Int64Pipe(1)],
            ),
        ]
        """,
    )
    result = project.manage("exe", "simulate", "--quiet", timeout=60)
    assert result.returncode == 1, result.stderr
    assert "the program 'python3' exited with status 4" in result.stderr


BYTES_JOBS = """
import struct
from fission.core.jobs import ExecutableJob, LocalJob, PythonJob


def tail(n, size):
    return bytes([n % 251]) * (size - 8)


class PackedNumbers(PythonJob):
    def __init__(self, count, size=8, **kwargs):
        super().__init__(**kwargs)
        self.count, self.size = count, size

    def run(self):
        for n in range(1, self.count + 1):
            yield struct.pack("<q", n) + tail(n, self.size)


class Scale(ExecutableJob):
    EXECUTABLE = "scale"
    PARAMETERS = "-f 3"
    DEPENDENCIES = "bin"


class PackedTotal(LocalJob, PythonJob):
    def __init__(self, factor=3, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def setup(self):
        self.values = []
        self.tails = True

    def run(self, block):
        assert type(block) is bytes, type(block)
        value = struct.unpack_from("<q", block)[0]
        self.values.append(value)
        self.tails &= block[8:] == tail(value // self.factor, len(block))

    def teardown(self):
        v = self.values
        ordered = v == [self.factor * n for n in range(1, len(v) + 1)]
        print("total", len(v), sum(v), ordered, "tails", self.tails, flush=True)
"""

#: Block sizes of the batched path: small blocks travel in RUN frames, big ones one per frame;
#: both go from the socket into the program's pipe by splice (links.InputLink._read_feeding).
#: Frames of 16 KiB or more also go from the program's pipe into the socket by splice
#: (OutputLink.send_spliced): 64 KiB blocks, and runs of 4 KiB ones.
SIZES = [8, 64 * 1024]


def _bytes_chain(
    project, middle: str, count: int, size: int, factor: int = 3
) -> subprocess.CompletedProcess[str]:
    """PackedNumbers -> ``middle`` -> PackedTotal over plain ``size``-byte BytesPipes: the shape
    the job host runs many rounds per call for (ExecutableBridge.run_batch)."""
    project.network(
        "exe",
        jobs=BYTES_JOBS,
        config=f"""
        from fission.core.jobs import DynamicExecutableJob
        from fission.core.pipes import BytesPipe
        from exe.jobs.jobs import PackedNumbers, PackedTotal, Scale

        Scale.PARAMETERS = "-f 3 -s {size}"
        JOBS = [
            PackedNumbers({count}, {size}, outputs=[BytesPipe(1, {size})]),
            {middle},
            PackedTotal({factor}, inputs=[BytesPipe(2, {size})]),
        ]
        """,
    )
    return project.manage("exe", "simulate", "--debug-window", "--quiet", timeout=120)


@pytest.mark.parametrize("size", [*SIZES, 4096])
def test_a_long_bytes_stream_through_a_c_program_in_batches_stays_exact(project, size):
    _compile_scale(project.root)
    n = 60000 if size == 8 else 4000
    middle = f"Scale(inputs=[BytesPipe(1, {size})], outputs=[BytesPipe(2, {size})])"
    result = _bytes_chain(project, middle, n, size)
    assert result.returncode == 0, result.stderr
    assert f"total {n} {3 * n * (n + 1) // 2} True tails True" in result.stdout


STOPS_AFTER = """python3 -c "
import sys
src, dst = open(sys.argv[2], 'rb'), open(sys.argv[4], 'wb')
for _ in range(1000):
    dst.write(src.read({size})); dst.flush()
sys.exit({status})
" """


def _stops_after(status: int, size: int) -> str:
    """The middle job: a program that copies 1000 blocks, then exits with ``status``."""
    program = STOPS_AFTER.format(status=status, size=size)
    return (
        f"DynamicExecutableJob(executable={program!r}, "
        f"inputs=[BytesPipe(1, {size})], outputs=[BytesPipe(2, {size})])"
    )


@pytest.mark.parametrize("size", SIZES)
def test_a_program_that_ends_cleanly_mid_stream_ends_it_after_its_last_block(project, size):
    # blocks were given to it ahead of their rounds: the stream still ends exactly after the
    # last block it wrote, and the run finishes normally
    result = _bytes_chain(project, _stops_after(0, size), 5000, size, factor=1)
    assert result.returncode == 0, result.stderr
    assert "total 1000 500500 True tails True" in result.stdout


@pytest.mark.parametrize("size", SIZES)
def test_a_program_that_fails_mid_stream_fails_its_job_with_its_status(project, size):
    result = _bytes_chain(project, _stops_after(5, size), 5000, size, factor=1)
    assert result.returncode == 1, result.stderr
    assert "the program 'python3' exited with status 5" in result.stderr


@pytest.mark.parametrize("size", SIZES)
def test_skipped_rounds_before_a_batched_program_are_not_owed_to_it(project, size):
    # a Python job before the program returns None now and then: those rounds reach the
    # program's job host as SKIPs, never as blocks, and the batches must go on after them
    _compile_scale(project.root)
    count = 20000 if size == 8 else 3000
    project.network(
        "exe",
        jobs=BYTES_JOBS
        + """

class Thin(PythonJob):
    def run(self, block):
        return None if struct.unpack_from("<q", block)[0] % 7 == 0 else block
""",
        config=f"""
        from fission.core.pipes import BytesPipe
        from exe.jobs.jobs import PackedNumbers, PackedTotal, Scale, Thin

        Scale.PARAMETERS = "-f 3 -s {size}"
        JOBS = [
            PackedNumbers({count}, {size}, outputs=[BytesPipe(1, {size})]),
            Thin(inputs=[BytesPipe(1, {size})], outputs=[BytesPipe(3, {size})]),
            Scale(inputs=[BytesPipe(3, {size})], outputs=[BytesPipe(2, {size})]),
            PackedTotal(inputs=[BytesPipe(2, {size})]),
        ]
        """,
    )
    result = project.manage("exe", "simulate", "--debug-window", "--quiet", timeout=60)
    assert result.returncode == 0, result.stderr
    kept = [n for n in range(1, count + 1) if n % 7]
    assert f"total {len(kept)} {3 * sum(kept)} False tails True" in result.stdout


COPY_PY = r"""
import os, sys
open("host.pid", "w").write(str(os.getppid()))  # its job host, for the test to kill
size = int(sys.argv[2])  # copy.py -s SIZE -i IN -o OUT
src, dst = open(sys.argv[4], "rb"), open(sys.argv[6], "wb", 0)  # (reads whole blocks)
while len(block := src.read(size)) == size:
    dst.write(block)
"""

RESTART_JOBS = """
import os, struct, time
from fission.core.jobs import ExecutableJob, PythonJob


def tail(n, size):
    return bytes([n % 251]) * (size - 8)


class Counter(PythonJob):
    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = size

    def setup(self):
        self.next = 1

    def resume(self, last_sqn):
        self.next = last_sqn + 1

    def run(self):
        while self.next <= 6000:
            value = self.next
            self.next += 1
            yield struct.pack("<q", value) + tail(value, self.size)
            time.sleep(0.0005)


class Copy(ExecutableJob):
    EXECUTABLE = "python3 copy.py"
    DEPENDENCIES = "bin"


class Record(PythonJob):
    def setup(self):
        open("host.pid", "w").write(str(os.getpid()))  # for the test to kill
        self.out = open("received.txt", "a")

    def run(self, block):
        value = struct.unpack_from("<q", block)[0]
        self.out.write(f"{value if block[8:] == tail(value, len(block)) else 'bad'}\\n")
        self.out.flush()
"""


def _kill_mid_stream(project, reap, size: int, victim: int) -> list[str]:
    """Run the Counter -> Copy -> Record chain under ``simulate --restart``, kill job
    ``victim``'s host once 500 blocks have arrived, and give what Record wrote."""
    folder = project.network(
        "net",
        jobs=RESTART_JOBS,
        config=f"""
        from fission.core.pipes import BytesPipe
        from net.jobs.jobs import Counter, Copy, Record

        Copy.PARAMETERS = "-s {size}"
        JOBS = [
            Counter({size}, outputs=[BytesPipe(1, {size})]),
            Copy(inputs=[BytesPipe(1, {size})], outputs=[BytesPipe(2, {size})]),
            Record(inputs=[BytesPipe(2, {size})]),
        ]
        JOB_RESTARTS = 2
        CREDIT_WINDOW = 256
        """,
    )
    (project.root / "bin").mkdir()
    (project.root / "bin" / "copy.py").write_text(COPY_PY)
    received = folder / "simulation" / "3" / "received.txt"

    def lines() -> list[str]:
        return received.read_text().split() if received.exists() else []

    process = project.start("net", "simulate", "--restart")
    reap.append(process)
    deadline = time.monotonic() + 30
    while len(lines()) < 500:
        assert time.monotonic() < deadline, "\n".join(process.errors)  # type: ignore[attr-defined]
        time.sleep(0.05)
    os.kill(int((folder / "simulation" / str(victim) / "host.pid").read_text()), signal.SIGKILL)
    assert process.wait(timeout=60) == 0, "\n".join(process.errors)  # type: ignore[attr-defined]
    return lines()


@pytest.mark.parametrize("size", SIZES)
def test_a_batched_program_restarted_mid_stream_goes_on_exactly(project, reap, size):
    # the restarted job host starts at the first round its producer still has, not at 1
    assert _kill_mid_stream(project, reap, size, victim=2) == [str(n) for n in range(1, 6001)]


@pytest.mark.parametrize("size", [64 * 1024, 256 * 1024])
def test_the_consumer_of_a_batched_program_restarted_mid_stream_gets_everything(
    project, reap, size
):
    # big blocks leave the program's pipe by splice, and its replay buffer keeps them as page
    # references (PageStore): the restarted consumer must get them again, intact
    got = _kill_mid_stream(project, reap, size, victim=3)
    assert "bad" not in got
    # a restarted sink may do again the rounds it had not acknowledged yet, never skip one
    assert list(dict.fromkeys(int(v) for v in got)) == list(range(1, 6001))
    assert len(got) < 6000 + 256


COPY_TEN_PY = r"""
import os, sys
open("host.pid", "w").write(str(os.getppid()))  # its job host, for the test to watch
size = int(sys.argv[2])  # copy10.py -s SIZE -i IN -o OUT
src, dst = open(sys.argv[4], "rb"), open(sys.argv[6], "wb", 0)
for _ in range(10):
    dst.write(src.read(size))
"""

PAUSE_JOBS = """
import struct, time
from fission.core.jobs import ExecutableJob, PythonJob


class Pausing(PythonJob):
    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = size

    def run(self):
        for n in range(1, 21):
            if n == 11:
                open("paused", "w").close()
                time.sleep(4)
            yield struct.pack("<q", n) + bytes(self.size - 8)


class CopyTen(ExecutableJob):
    EXECUTABLE = "python3 copy10.py"
    DEPENDENCIES = "bin"


class Count(PythonJob):
    def setup(self):
        self.count = 0

    def run(self, block):
        self.count += 1

    def teardown(self):
        print("count", self.count, flush=True)
"""


@pytest.mark.parametrize("size", SIZES)
def test_a_batched_program_job_idles_after_its_program_ended_between_blocks(project, reap, size):
    # the program copies 10 blocks and exits while no more input is coming: its output pipe
    # is at its end (readable for ever), and the job host must not wake up for it again and
    # again; the end is noticed when the next block arrives
    folder = project.network(
        "net",
        jobs=PAUSE_JOBS,
        config=f"""
        from fission.core.pipes import BytesPipe
        from net.jobs.jobs import CopyTen, Count, Pausing

        CopyTen.PARAMETERS = "-s {size}"
        JOBS = [
            Pausing({size}, outputs=[BytesPipe(1, {size})]),
            CopyTen(inputs=[BytesPipe(1, {size})], outputs=[BytesPipe(2, {size})]),
            Count(inputs=[BytesPipe(2, {size})]),
        ]
        """,
    )
    (project.root / "bin").mkdir()
    (project.root / "bin" / "copy10.py").write_text(COPY_TEN_PY)
    process = project.start("net", "simulate")
    reap.append(process)
    paused = folder / "simulation" / "1" / "paused"
    deadline = time.monotonic() + 30
    while not paused.exists():
        assert time.monotonic() < deadline, "\n".join(process.errors)  # type: ignore[attr-defined]
        time.sleep(0.05)
    time.sleep(0.5)  # the program copies its 10 blocks and exits
    host = int((folder / "simulation" / "2" / "host.pid").read_text())
    before = _cpu_seconds(host)
    time.sleep(2)
    assert _cpu_seconds(host) - before < 0.5  # a busy loop would take about 2 s
    assert process.wait(timeout=60) == 0, "\n".join(process.errors)  # type: ignore[attr-defined]
    assert "count 10" in (folder / "simulation" / "3" / "job.log").read_text()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

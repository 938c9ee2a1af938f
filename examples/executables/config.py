# Executables: a program in another language (here a Python script standing in for one) in the
# middle of a network, configured in config.py with DynamicExecutableJob. It reads two IntPipe
# streams and writes their sum, with HEAD = True: a head byte before each block, both ways.
#
#   SourceJob 1 --1--> sum_ints.py (job 3) --3--> ShowSum 4
#   SourceJob 2 --2--/
from fission.core.jobs import DynamicExecutableJob, SourceJob
from executables.jobs.jobs import ShowSum
from executables.pipes.pipes import IntPipe

DEBUG_WINDOW = True

JOBS = [
    SourceJob(outputs=[IntPipe(1)], start=1, count=8),
    SourceJob(outputs=[IntPipe(2)], start=2, step=2, count=8),
    DynamicExecutableJob(
        executable="python3 sum_ints.py",
        dependencies="executables/bin",  # copied into the job's folder
        head=True,
        inputs=[IntPipe(1), IntPipe(2)],
        outputs=[IntPipe(3)],
    ),
    ShowSum(inputs=[IntPipe(3)]),
]

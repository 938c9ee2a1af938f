# Heads (HEAD = True): SumJob marks big sums with a user bit of the block's head; the
# ForwardingJob in between has no HEAD and passes the bit on; CheckJob reads it
# (in the style of the original's example_4, without its always-true head test).
#
#   SourceJob 1 --1--> SumJob 3 --3--> ForwardingJob 4 --4--> CheckJob 5 --5,6,7--> CSVSinkJob 6
#   SourceJob 2 --2--/
from fission.core.jobs import CSVSinkJob, ForwardingJob, SourceJob
from fission.core.pipes import PicklePipe
from heads.jobs.jobs import CheckJob, SumJob

DEBUG_WINDOW = True

JOBS = [
    SourceJob(outputs=[PicklePipe(1)], start=1, count=6, delay=0.2),
    SourceJob(outputs=[PicklePipe(2)], start=2, step=2, count=6, delay=0.2),
    SumJob(inputs=[PicklePipe(1), PicklePipe(2)], outputs=[PicklePipe(3)]),
    ForwardingJob(inputs=[PicklePipe(3)], outputs=[PicklePipe(4)]),
    CheckJob(inputs=[PicklePipe(4)], outputs=[PicklePipe(5), PicklePipe(6), PicklePipe(7)]),
    CSVSinkJob(
        "checked.csv",
        inputs=[PicklePipe(5), PicklePipe(6), PicklePipe(7)],
        col_pattern="col_{pipe.id}",
    ),
]

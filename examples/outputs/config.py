# Broadcast and tuple outputs, a variadic job, BLOCK_COUNT and two CSV sinks on the client
# (in the style of the original's demo_network_v3).
#
#   SourceJob 1 --101--> JoinJob 3 --103 (5 per round)--> ReduceJob 4 --301--> CSVSinkJob 6
#   SourceJob 2 --102-->     |                                   \---302--/
#   1, 2 and 3 also feed CSVSinkJob 5 (201, 202, 203)
from fission.core.jobs import CSVSinkJob, SourceJob
from fission.core.pipes import PicklePipe
from shared.jobs.jobs import JoinJob, ReduceJob
from shared.pipes.pipes import ReducePipe

DEBUG_WINDOW = True

JOBS = [
    # a source's value goes to both of its outputs (broadcast)
    SourceJob(outputs=[PicklePipe(101), PicklePipe(201)], start=1, count=5, delay=0.2),
    SourceJob(outputs=[PicklePipe(102), PicklePipe(202)], start=10, step=10, count=5, delay=0.2),
    JoinJob(inputs=[PicklePipe(101), PicklePipe(102)], outputs=[ReducePipe(103), PicklePipe(203)]),
    ReduceJob(inputs=[ReducePipe(103)], outputs=[PicklePipe(301), PicklePipe(302)]),
    CSVSinkJob("join.csv", inputs=[PicklePipe(201), PicklePipe(202), PicklePipe(203)]),
    CSVSinkJob(
        "reduce.csv", inputs=[PicklePipe(301), PicklePipe(302)], col_pattern="reduce_{pipe.id}"
    ),
]

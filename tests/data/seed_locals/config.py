# The seed tutorial's extended network ('locals' graph), with finite, gated sources.
from fission.core.jobs import CSVSinkJob, InteractiveJob
from fission.core.pipes import PicklePipe
from seed_locals.jobs.jobs import JoinJob, ReduceJob, SourceJob
from seed_locals.pipes.pipes import OperatorPipe, ReducePipe

LOG_LEVEL = "INFO"
LOG_FILE = "FISSION.log"

COUNT = 10
# Relative to each source's folder (<run folder>/<job id>/): the file <run folder>/gate.
GATE = "../gate"

JOBS = [
    InteractiveJob(outputs=[OperatorPipe(104)]),  # 1
    SourceJob(COUNT, 5, GATE, outputs=[PicklePipe(101), PicklePipe(201)]),  # 2
    SourceJob(COUNT, 5, GATE, outputs=[PicklePipe(102), PicklePipe(202)]),  # 3
    SourceJob(COUNT, 5, GATE, outputs=[PicklePipe(103), PicklePipe(203)]),  # 4
    JoinJob(  # 5
        inputs=[PicklePipe(101), PicklePipe(102), PicklePipe(103), OperatorPipe(104)],
        outputs=[ReducePipe(105), PicklePipe(204), PicklePipe(205)],
    ),
    ReduceJob(inputs=[ReducePipe(105)], outputs=[PicklePipe(301)]),  # 6
    CSVSinkJob(  # 7
        "join.csv",
        inputs=[PicklePipe(201), PicklePipe(202), PicklePipe(203), PicklePipe(204), PicklePipe(205)],
    ),
    CSVSinkJob("reduce.csv", inputs=[PicklePipe(301)]),  # 8
]

# Type an operator (+, - or *) while it runs: the results change from the next round on.
# On a terminal, type into the terminal; without one, into the named pipe the InteractiveJob
# names, e.g.: echo '*' > calculator/simulation/1/input.fifo
#
#   InteractiveJob 1 --104 (optional)--> CalcJob 4 --401, 402--> CSVSinkJob 5
#   SourceJob 2 --102--> CalcJob 4;  SourceJob 3 --103--> CalcJob 4
from fission.core.jobs import CSVSinkJob, InteractiveJob, SourceJob
from fission.core.pipes import PicklePipe
from calculator.jobs.jobs import CalcJob
from calculator.pipes.pipes import OperatorPipe

DEBUG_WINDOW = True

JOBS = [
    InteractiveJob(outputs=[OperatorPipe(104)]),
    SourceJob(outputs=[PicklePipe(102)], start=10, step=10, count=10, delay=0.3),
    SourceJob(outputs=[PicklePipe(103)], start=1, count=10, delay=0.3),
    CalcJob(inputs=[PicklePipe(102), PicklePipe(103), OperatorPipe(104)],
            outputs=[PicklePipe(401), PicklePipe(402)]),
    CSVSinkJob("results.csv", inputs=[PicklePipe(401), PicklePipe(402)]),
]

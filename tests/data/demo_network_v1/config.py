# ----------------------------------------------------
# FISSION CONFIG FILE (compatibility fixture: the seed tutorial's config, see tests/README.md)
# ----------------------------------------------------
from demo_network_v1.jobs.jobs import JoinJob, ReduceJob, SourceJob
from demo_network_v1.pipes.pipes import ReducePipe
from fission.core.nodes import BaseNode
from fission.core.pipes import PicklePipe

USER = "pi"
REMOTE_ROOT = f"/home/{USER}/fission/"
LOG_LEVEL = "INFO"
LOG_FILE = "FISSION.log"
CLIENT_IP = "192.168.4.1"
DEBUG_WINDOW = True

JOBS = [
    SourceJob(
        outputs=[
            PicklePipe(101),
        ]
    ),
    SourceJob(
        outputs=[
            PicklePipe(102),
        ]
    ),
    SourceJob(
        outputs=[
            PicklePipe(103),
        ]
    ),
    JoinJob(
        inputs=[
            PicklePipe(101),
            PicklePipe(102),
            PicklePipe(103),
        ],
        outputs=[
            ReducePipe(105),
        ]
    ),
    ReduceJob(
        inputs=[
            ReducePipe(105),
        ]
    ),
]

NODES = [
    BaseNode("192.168.4.2"),
    BaseNode("192.168.4.3"),
    BaseNode("192.168.4.4"),
]

PRE_COPY = False
XML_FILE = None

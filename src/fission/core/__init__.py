"""What the user declares: jobs, pipes, nodes and the validated network. Pure: no I/O."""

from fission.core.errors import ConfigError, FissionError, JobError, PipeError
from fission.core.jobs import BaseJob, LocalJob, PythonJob
from fission.core.network import Network
from fission.core.nodes import BaseNode, LocalNode
from fission.core.pipes import BasePipe, BytesPipe, JSONPipe, PicklePipe

__all__ = [
    "BaseJob",
    "BaseNode",
    "BasePipe",
    "BytesPipe",
    "ConfigError",
    "FissionError",
    "JSONPipe",
    "JobError",
    "LocalJob",
    "LocalNode",
    "Network",
    "PicklePipe",
    "PipeError",
    "PythonJob",
]

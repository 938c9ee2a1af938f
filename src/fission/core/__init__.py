"""What the user declares: jobs, pipes, nodes and the validated network. Pure: no I/O."""

from fission.core.errors import ConfigError, FissionError, JobError, PipeError
from fission.core.head import Head
from fission.core.jobs import (
    BaseJob,
    ClockJob,
    CSVSinkJob,
    DistributingJob,
    ForwardingJob,
    InteractiveJob,
    LocalJob,
    LoggingJob,
    LoggingSinkJob,
    PythonJob,
    SourceJob,
)
from fission.core.network import Network
from fission.core.nodes import BaseNode, LocalNode, MultiNode
from fission.core.pipes import (
    BasePipe,
    BytesPipe,
    JSONPipe,
    OptionalBytesPipe,
    OptionalJSONPipe,
    OptionalMixIn,
    OptionalPicklePipe,
    PicklePipe,
)

__all__ = [
    "BaseJob",
    "BaseNode",
    "BasePipe",
    "BytesPipe",
    "CSVSinkJob",
    "ClockJob",
    "ConfigError",
    "DistributingJob",
    "FissionError",
    "ForwardingJob",
    "Head",
    "InteractiveJob",
    "JSONPipe",
    "JobError",
    "LocalJob",
    "LocalNode",
    "LoggingJob",
    "LoggingSinkJob",
    "MultiNode",
    "Network",
    "OptionalBytesPipe",
    "OptionalJSONPipe",
    "OptionalMixIn",
    "OptionalPicklePipe",
    "PicklePipe",
    "PipeError",
    "PythonJob",
    "SourceJob",
]

"""The original's import paths keep the library's names (compatibility surface)."""

from __future__ import annotations

import importlib

import pytest

import fission.core

ORIGINAL_NAMES = {
    "fission.core.jobs": {
        "BaseJob",
        "PythonJob",
        "LocalJob",
        "CSVSinkJob",
        "InteractiveJob",
        "LoggingJob",
        "LoggingSinkJob",
        "ClockJob",
        "ForwardingJob",
        "DistributingJob",
        "SourceJob",
        "Head",
    },
    "fission.core.pipes": {
        "BasePipe",
        "PicklePipe",
        "JSONPipe",
        "BytesPipe",
        "OptionalMixIn",
        "OptionalPicklePipe",
        "OptionalJSONPipe",
        "OptionalBytesPipe",
    },
    "fission.core.nodes": {"BaseNode", "LocalNode", "MultiNode"},
}


@pytest.mark.parametrize("module", sorted(ORIGINAL_NAMES))
def test_compatibility_modules_export_the_library(module):
    loaded = importlib.import_module(module)
    assert ORIGINAL_NAMES[module] <= set(loaded.__all__)
    for name in loaded.__all__:
        assert hasattr(loaded, name), f"{module}.__all__ names {name}, which does not exist"


def test_core_reexports_the_user_api():
    assert sorted(fission.core.__all__) == fission.core.__all__
    for name in fission.core.__all__:
        assert getattr(fission.core, name) is not None
    assert set().union(*ORIGINAL_NAMES.values()) <= set(fission.core.__all__)

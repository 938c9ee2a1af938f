"""config.py settings: defaults, type checks, the template documents every setting."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from fission.core.errors import ConfigError
from fission.core.settings import SETTINGS

BASIC = "JOBS = [Source(outputs=[PicklePipe(1)]), Sink(inputs=[PicklePipe(1)])]\n"


def test_defaults_apply(load):
    settings = load(BASIC).settings
    assert settings.LOG_LEVEL == "INFO"
    assert settings.LOG_FILE == "FISSION.log"
    assert settings.DEBUG_WINDOW is False
    assert settings.PRE_COPY is False
    assert settings.XML_FILE is None
    assert settings.NODES == []


def test_seed_settings_are_accepted(load):
    settings = load(
        BASIC
        + """
USER = "pi"
REMOTE_ROOT = f"/home/{USER}/fission/"
LOG_LEVEL = "DEBUG"
LOG_FILE = "FISSION.log"
CLIENT_IP = "192.168.4.1"
DEBUG_WINDOW = True
NODES = [BaseNode("192.168.4.2"), BaseNode("192.168.4.3")]
PRE_COPY = False
XML_FILE = None
"""
    ).settings
    assert settings.REMOTE_ROOT == "/home/pi/fission/"
    assert settings.CLIENT_IP == "192.168.4.1"
    assert [node.ip for node in settings.NODES] == ["192.168.4.2", "192.168.4.3"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('LOG_LEVEL = "LOUD"', r"config\.py:6: LOG_LEVEL must be a logging level name"),
        ("DEBUG_WINDOW = 'yes'", "DEBUG_WINDOW must be bool, got str"),
        ("CREDIT_WINDOW = 0", "CREDIT_WINDOW must be at least 1"),
        ("XML_FILE = 3", "XML_FILE must be str or None"),
    ],
)
def test_wrong_settings_stop_everything(load, line, expected):
    with pytest.raises(ConfigError, match=expected):
        load(BASIC + line + "\n")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("PRE_COPY = 1", "PRE_COPY must be bool, got int"),
        ("NODES = 'node1'", "NODES must be list or tuple"),
        ("NODES = ['not a node']", "NODES entry 1 is 'not a node', not a node"),
        ("HEARTBEAT_PERIOD = 0", r"config\.py:6: HEARTBEAT_PERIOD must be greater than 0"),
    ],
)
def test_settings_for_servers_only_are_collected_for_run(load, line, expected):
    settings = load(BASIC + line + "\n").settings
    assert any(re.search(expected, problem) for problem in settings.run_problems)


def test_typos_and_unlisted_jobs_are_warned_about(load):
    network = load(
        BASIC
        + """
DEBUG_WINDOWS = True
spare = Source(outputs=[PicklePipe(9)])
"""
    )
    assert any(
        "DEBUG_WINDOWS is not a FISSION setting (ignored); did you mean DEBUG_WINDOW?" in w
        for w in network.settings.warnings
    )
    assert any("Source is created but not listed in JOBS" in w for w in network.warnings)


def test_missing_jobs(load):
    with pytest.raises(ConfigError, match="defines no JOBS"):
        load("X = 1\n")


def test_template_documents_every_setting():
    template = (resources.files("fission") / "templates" / "network" / "config.py-tpl").read_text()
    for setting in SETTINGS:
        assert f"\n{setting.name} = " in template, setting.name

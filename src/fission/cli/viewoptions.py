"""The options that choose the live view, shared by ``simulate``, ``run`` and ``demo`` (and
``emulate``, which hands them to ``run``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

__all__ = ["view_mode", "view_options"]

VIEWS = ("auto", "terminal", "plain")


def view_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--view",
        type=click.Choice(VIEWS),
        default="auto",
        show_default=True,
        help="Live view: the full display on a terminal and one summary line a second "
        "otherwise (auto), or either one whatever stdout is.",
    )(command)
    return click.option(
        "--quiet",
        "-q",
        is_flag=True,
        help="No live view: only the jobs' lines and FISSION's own lines.",
    )(command)


def view_mode(view: str, quiet: bool) -> str:
    """The ``view`` argument of :func:`fission.client.monitor.supervise`."""
    return "off" if quiet else view

"""Rendering the project and network templates (``fission/templates``).

Template files end in ``-tpl`` so they are never imported as code; ``{{ project }}`` and
``{{ network }}`` are replaced. Existing folders are never overwritten.
"""

from __future__ import annotations

import keyword
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from fission.core.errors import ProjectError

__all__ = ["render", "validate_name"]


def validate_name(name: str, what: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ProjectError(
            f"'{name}' is not a valid {what} name: use letters, digits and underscores, not "
            f"starting with a digit (it becomes a Python package name)"
        )


def _copy(source: Traversable, target: Path, values: dict[str, str]) -> None:
    for item in source.iterdir():
        if item.is_dir():
            if item.name == "__pycache__":
                continue
            (target / item.name).mkdir()
            _copy(item, target / item.name, values)
        elif item.name.endswith("-tpl"):
            name = item.name[: -len("-tpl")]
            if name == "gitignore":
                name = ".gitignore"
            text = item.read_text()
            for key, value in values.items():
                text = text.replace("{{ " + key + " }}", value)
            (target / name).write_text(text)


def render(template: str, target: Path, values: dict[str, str]) -> None:
    """Create ``target`` from the template folder ``template`` (``project`` or ``network``)."""
    if target.exists():
        raise ProjectError(
            f"{target} already exists; FISSION never overwrites a folder. Pick another name or "
            f"remove the folder first"
        )
    target.mkdir(parents=True)
    _copy(resources.files("fission") / "templates" / template, target, values)
    if template == "project":
        (target / "shared" / "source").mkdir()
    elif template == "network":
        (target / "source").mkdir()

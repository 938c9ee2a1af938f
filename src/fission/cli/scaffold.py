"""Rendering the project and network templates (``fission/templates``).

Template files end in ``-tpl`` so they are never imported as code; ``{{ project }}`` and
``{{ network }}`` are replaced. Existing folders are never overwritten.
"""

from __future__ import annotations

import importlib.util
import keyword
import sys
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from fission.core.errors import ProjectError

__all__ = ["render", "validate_name"]


def _installed_elsewhere(name: str, base: Path) -> bool:
    """Whether ``name`` is an importable module that is not a folder of ``base``."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    places = [spec.origin or "", *(spec.submodule_search_locations or [])]
    here = str(base.resolve())
    return not any(place and str(Path(place).resolve()).startswith(here) for place in places)


def validate_name(name: str, what: str, base: Path) -> None:
    """Reject names that are no identifiers or would shadow a module (``base``: the folder the
    new package goes into)."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ProjectError(
            f"'{name}' is not a valid {what} name: use letters, digits and underscores, not "
            f"starting with a digit (it becomes a Python package name)"
        )
    if (
        name in sys.builtin_module_names
        or name in sys.stdlib_module_names
        or name == "fission"
        or _installed_elsewhere(name, base)
    ):
        raise ProjectError(
            f"'{name}' would shadow the Python module of the same name (it becomes a package "
            f"name); pick another {what} name"
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

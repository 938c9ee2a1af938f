"""What a job's ``DEPENDENCIES`` name: data folders for its working folder, and code modules.

``DEPENDENCIES`` is ``None``, one item, or a list of items. An item is

* a folder (a ``str`` or ``Path``, relative to the project folder or absolute): its *contents*
  are copied into the job's working folder before ``setup`` runs, on every start, so a job
  that moves to another server finds them there too (executables usually live in one);
* a module, or a class or function (its module): code the job needs on its server.

Unlike the original, any number of folders may be listed. Code inside the project is shipped
with the project anyway; modules from elsewhere are shipped to the servers by ``run``.
"""

from __future__ import annotations

import inspect
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from fission.core.errors import JobError

__all__ = ["Dependencies", "check_folders", "copy_folders", "dependencies_of", "outside_modules"]


@dataclass(frozen=True)
class Dependencies:
    folders: tuple[str, ...] = ()  # as written: relative to the project folder, or absolute
    modules: tuple[str, ...] = ()  # module names


def dependencies_of(job: Any) -> Dependencies:
    """The job's ``DEPENDENCIES``, checked (a wrong item is an error naming the job)."""
    declared = getattr(job, "DEPENDENCIES", None)
    if declared is None:
        return Dependencies()
    items = list(declared) if isinstance(declared, (list, tuple)) else [declared]
    folders: list[str] = []
    modules: list[str] = []
    for item in items:
        if isinstance(item, (str, Path)):
            folders.append(str(item))
        elif isinstance(item, ModuleType):
            modules.append(item.__name__)
        elif inspect.isclass(item) or inspect.isfunction(item):
            modules.append(item.__module__)
        else:
            raise JobError(
                f"{job.declared_at}: {job.name}: DEPENDENCIES may list folders (paths) and "
                f"modules, classes or functions; got {item!r}"
            )
    return Dependencies(tuple(folders), tuple(modules))


def check_folders(job: Any, project_dir: Path) -> None:
    """Every folder in the job's DEPENDENCIES exists (relative paths: in the project)."""
    for folder in dependencies_of(job).folders:
        path = project_dir / folder
        if not path.is_dir():
            raise JobError(
                f"{job.declared_at}: {job.name}: DEPENDENCIES folder {folder!r} does not exist "
                f"(looked for {path}; relative paths start at the project folder)"
            )


def outside_modules(job: Any, project_dir: Path) -> list[ModuleType]:
    """The job's DEPENDENCIES modules that the project's own files do not provide."""
    found = []
    for name in dependencies_of(job).modules:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if module is None or origin is None:
            continue
        if not Path(origin).resolve().is_relative_to(project_dir.resolve()):
            found.append(module)
    return found


def copy_folders(folders: tuple[str, ...] | list[str], project_dir: Path, workdir: Path) -> None:
    """Copy the contents of each folder into ``workdir`` (files already there are replaced)."""
    for folder in folders:
        source = project_dir / folder
        shutil.copytree(source, workdir, dirs_exist_ok=True, symlinks=True)

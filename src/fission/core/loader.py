"""Loading a network's config.py into a validated :class:`~fission.core.network.Network`.

The project folder goes first on ``sys.path`` so that config.py imports its jobs the way the
original documented (``from demo_network_v1.jobs.jobs import SourceJob``). The import runs inside
a fresh declaration scope, so pipe ids are shared within this load only. A failing import
becomes a :class:`ConfigError` that names the user's file and line, never a bare traceback.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from types import ModuleType

from fission.core.declaration import declaration_scope
from fission.core.dependencies import check_folders
from fission.core.errors import ConfigError, FissionError, ProjectError
from fission.core.network import Network
from fission.core.settings import Settings
from fission.core.xmltopology import import_topology

__all__ = ["load_config_module", "load_network", "network_dir"]


def network_dir(project_dir: Path, network: str) -> Path:
    """The folder of ``network``, checked to be a runnable network."""
    if not network.isidentifier():
        raise ProjectError(
            f"'{network}' is not a valid network name: use letters, digits and underscores, "
            f"not starting with a digit"
        )
    folder = project_dir / network
    if not folder.is_dir():
        raise ProjectError(
            f"no network '{network}' in {project_dir}; create it with: "
            f"python3 manage.py {network} startnetwork"
        )
    if not (folder / "config.py").is_file():
        hint = (
            "it holds shared jobs, pipes and nodes and cannot run by itself"
            if network == "shared"
            else "add one, or recreate the network with: python3 manage.py <name> startnetwork"
        )
        raise ProjectError(f"network '{network}' has no config.py ({folder}); {hint}")
    return folder


def _forget_modules(prefixes: tuple[str, ...]) -> None:
    for name in list(sys.modules):
        if name in prefixes or name.startswith(tuple(p + "." for p in prefixes)):
            del sys.modules[name]


def _user_frame(exc: BaseException, folder: Path) -> str:
    """The innermost traceback line inside the user's project, as ``file:line``."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(str(folder)):
            where = f"{frame.filename}:{frame.lineno}"
    return where


def load_config_module(project_dir: Path, network: str) -> tuple[ModuleType, list[object]]:
    """Import ``<network>.config`` afresh; returns the module and the jobs it declared."""
    folder = network_dir(project_dir, network)
    config_file = str(folder / "config.py")
    project = str(project_dir)
    if sys.path[:1] != [project]:
        sys.path.insert(0, project)
    # A fresh import every time: a second load (tests, `interactive`) must re-run config.py.
    _forget_modules((network, "shared"))
    importlib.invalidate_caches()
    with declaration_scope(config_file) as scope:
        try:
            module = importlib.import_module(f"{network}.config")
        except FissionError:
            raise
        except SyntaxError as exc:
            raise ConfigError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
        except ImportError as exc:
            where = _user_frame(exc, project_dir) or config_file
            raise ConfigError(
                f"{where}: {exc}; imports in config.py are relative to the project folder, "
                f"e.g. from {network}.jobs.jobs import MyJob"
            ) from None
        except Exception as exc:
            where = _user_frame(exc, project_dir) or config_file
            raise ConfigError(
                f"{where}: loading config.py failed: {type(exc).__name__}: {exc}"
            ) from exc
    return module, list(scope.jobs)


def load_network(project_dir: Path, network: str) -> Network:
    """Load and validate ``<project_dir>/<network>/config.py``."""
    project_dir = project_dir.resolve()
    module, declared = load_config_module(project_dir, network)
    settings = Settings.from_module(module)
    folder = project_dir / network
    # XML_FILE's jobs come after JOBS (so ids of JOBS do not depend on the XML), and its
    # servers join NODES.
    jobs, settings, xml_warnings = import_topology(settings, folder, project_dir)
    built = Network.build(
        network,
        jobs,
        settings,
        declared_jobs=declared,  # type: ignore[arg-type]
        network_dir=folder,
    )
    built.warnings.extend(xml_warnings)
    for job in built.jobs:
        check_folders(job, project_dir)
    return built

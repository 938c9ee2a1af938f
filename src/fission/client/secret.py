"""The project's secret: the key of every challenge-response between FISSION processes.

It is generated once per project into ``<project>/.fission/secret`` (readable by the owner only,
ignored by git through the project's .gitignore) and never sent over the network.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["private_key_file", "project_secret", "secret_path"]


def secret_path(project_dir: Path) -> Path:
    return project_dir / ".fission" / "secret"


def project_secret(project_dir: Path) -> str:
    """The project's secret as hex, created on first use."""
    return private_key_file(secret_path(project_dir))


def private_key_file(path: Path) -> str:
    """The random hex key kept in ``path`` (owner-only), created on first use."""
    if path.is_file():
        value = path.read_text().strip()
        if len(value) >= 32:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value

"""A wheelhouse: every wheel a server needs, for the servers' architecture and Python, so that
the playbooks install FISSION with ``pip install --no-index`` (labs and demos without internet).

The versions are the client's (the servers must run the same FISSION, Ray and Python), and a
manifest ``fission-wheelhouse.json`` records them; the playbooks refuse a wheelhouse whose
manifest does not match the client.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import fission
from fission.core.errors import FissionError

__all__ = ["MANIFEST", "Manifest", "build_wheelhouse", "client_versions", "platform_tags"]

MANIFEST = "fission-wheelhouse.json"
DISTRIBUTION = "fission-streams"

#: Architectures Ray publishes Linux wheels for (``uname -m``).
MACHINES = ("aarch64", "x86_64")


@dataclass(frozen=True)
class Manifest:
    """What a wheelhouse was made for (the keys the playbooks compare with the client)."""

    python: str
    fission: str
    ray: str | None
    machines: list[str]
    platforms: list[str]
    requirements: list[str] = field(default_factory=list)


def client_versions() -> dict[str, str | None]:
    """This Python's version and its installed FISSION and Ray versions."""

    def installed(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "fission": installed(DISTRIBUTION),
        "ray": installed("ray"),
    }


def platform_tags(machine: str, glibc: str) -> list[str]:
    """pip platform tags of a Linux ``machine`` with the given glibc (e.g. ``2.36``): pip does
    not widen a ``manylinux_2_X`` tag to the older ones, so every one is listed."""
    if machine not in MACHINES:
        if machine.startswith("arm") or machine in ("i386", "i686"):
            raise FissionError(
                f"Ray publishes no wheels for {machine} (32-bit): servers need a 64-bit OS "
                f"(e.g. Raspberry Pi OS 64-bit, where uname -m says aarch64)"
            )
        raise FissionError(f"unknown architecture {machine!r}: use one of {', '.join(MACHINES)}")
    try:
        major, minor = (int(part) for part in glibc.split("."))
    except ValueError:
        raise FissionError(f"--glibc {glibc!r} is not a version like 2.36") from None
    if major != 2 or minor < 17:
        raise FissionError(f"--glibc {glibc}: Ray needs glibc 2.17 or newer")
    return [f"manylinux_2_{m}_{machine}" for m in range(minor, 16, -1)] + [
        f"manylinux2014_{machine}"
    ]


def _fission_source() -> Path | None:
    """The source tree of the running FISSION, if it runs from one (a checkout)."""
    root = Path(fission.__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    with pyproject.open("rb") as handle:
        name = tomllib.load(handle).get("project", {}).get("name")
    return root if name == DISTRIBUTION else None


def _pip(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-4:])
        raise FissionError(f"pip {args[0]} failed while making the wheelhouse:\n{tail}")


def build_wheelhouse(
    dest: Path,
    machine: str,
    glibc: str = "2.36",
    extra: list[str] | None = None,
    cluster: bool = True,
) -> Manifest:
    """Collect into ``dest`` the wheels of the client's FISSION (with Ray when ``cluster``) and
    of ``extra`` requirements, for Linux on ``machine`` and the client's Python version.

    FISSION's own wheel is built from the running source tree when FISSION runs from a
    checkout, else downloaded at the client's version. Needs the package index.
    """
    versions = client_versions()
    if versions["fission"] is None:
        raise FissionError(f"{DISTRIBUTION} is not installed in {sys.executable}")
    if cluster and versions["ray"] is None:
        raise FissionError(
            f"Ray is not installed in {sys.executable}: servers get the client's Ray version, "
            f"so install it first: pip install '{DISTRIBUTION}[cluster]'"
        )
    platforms = platform_tags(machine, glibc)
    dest.mkdir(parents=True, exist_ok=True)
    source = _fission_source()
    if source is not None:
        _pip(["wheel", "--no-deps", "--quiet", "--wheel-dir", str(dest), str(source)])
    else:
        _pip(["download", "--no-deps", "--only-binary=:all:", "--quiet", "--dest", str(dest),
              f"{DISTRIBUTION}=={versions['fission']}"])  # fmt: skip
    requirements = [f"{DISTRIBUTION}{'[cluster]' if cluster else ''}=={versions['fission']}"]
    if cluster:
        requirements.append(f"ray=={versions['ray']}")
    requirements += extra or []
    platform_args = [arg for tag in platforms for arg in ("--platform", tag)]
    _pip(["download", "--only-binary=:all:", "--quiet", "--dest", str(dest),
          "--find-links", str(dest), *platform_args,
          "--implementation", "cp", "--python-version", versions["python"] or "",
          *requirements])  # fmt: skip
    manifest = Manifest(
        python=str(versions["python"]),
        fission=str(versions["fission"]),
        ray=versions["ray"] if cluster else None,
        machines=[machine],
        platforms=platforms,
        requirements=requirements,
    )
    (dest / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest

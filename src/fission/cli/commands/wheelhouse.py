"""``fission wheelhouse``: collect the wheels the servers need, for installs without internet.

Run in the project folder on the client (``make wheelhouse`` does); the playbooks then install
the servers from ``<project>/wheelhouse`` alone.
"""

from __future__ import annotations

from pathlib import Path

import click

from fission.cli.base import CommandContext
from fission.core.errors import FissionError
from fission.provisioning.wheelhouse import build_wheelhouse, platform_tags

HELP = "Collect every wheel the servers need (their architecture) for offline installs."
SCOPE = "project"


def _extra_packages(settings: Path) -> list[str]:
    """``fission_extra_packages`` of an ansible group_vars file."""
    try:
        import yaml
    except ImportError:
        raise FissionError(
            "reading --requirements-from needs PyYAML (it comes with ansible and with Ray)"
        ) from None
    try:
        data = yaml.safe_load(settings.read_text()) or {}
    except OSError as exc:
        raise FissionError(f"cannot read {settings}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise FissionError(f"{settings} is not valid YAML: {exc}") from None
    packages = data.get("fission_extra_packages") or []
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise FissionError(f"{settings}: fission_extra_packages must be a list of pip requirements")
    return packages


@click.command(help=HELP)
@click.option(
    "--platform",
    "machine",
    default="aarch64",
    show_default=True,
    help="The servers' architecture (uname -m): aarch64 or x86_64.",
)
@click.option(
    "--glibc",
    default="2.36",
    show_default=True,
    help="The servers' glibc version (2.36: Debian 12 and Raspberry Pi OS bookworm).",
)
@click.option(
    "--requirements-from",
    type=click.Path(path_type=Path),
    default=None,
    help="An ansible settings file whose fission_extra_packages are collected too.",
)
@click.option("--extra", multiple=True, help="Another pip requirement to collect (repeatable).")
@click.option(
    "--dest",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the wheels go (default: wheelhouse/ in the project folder).",
)
@click.pass_obj
def app(
    context: CommandContext,
    machine: str,
    glibc: str,
    requirements_from: Path | None,
    extra: tuple[str, ...],
    dest: Path | None,
) -> int:
    platform_tags(machine, glibc)  # a wrong platform is an error before anything is fetched
    dest = dest or context.project_dir / "wheelhouse"
    packages = [*(_extra_packages(requirements_from) if requirements_from else []), *extra]
    click.echo(f"fission: collecting wheels for {machine} into {dest} ...", err=True)
    manifest = build_wheelhouse(dest, machine, glibc, packages)
    count = len(list(dest.glob("*.whl")))
    click.echo(
        f"fission: {count} wheels for Python {manifest.python} on {machine} in {dest} "
        f"(fission-streams {manifest.fission}, ray {manifest.ray}); make servers now installs "
        f"from them without an index",
        err=True,
    )
    return 0

"""``fission_admin.py <project> startproject``: create a project folder."""

from __future__ import annotations

from pathlib import Path

import click

from fission.cli.base import CommandContext
from fission.cli.scaffold import render, validate_name
from fission.client.secret import project_secret

HELP = "Create a FISSION project: manage.py and a 'shared' network."
SCOPE = "project"


@click.command(help=HELP)
@click.argument("project")
@click.pass_obj
def app(context: CommandContext, project: str) -> None:
    """PROJECT is the name of the project folder to create."""
    validate_name(project, "project", Path(context.project_dir))
    target = Path(context.project_dir) / project
    render("project", target, {"project": project})
    (target / "manage.py").chmod(0o755)
    project_secret(target)
    print(f"Created project {project} in {target}")
    print(f"Next: cd {project} && python3 manage.py <network> startnetwork")

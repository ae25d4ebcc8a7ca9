"""CLI commands of this area (see coding_pipeline/cli/__init__.py)."""

import click

COMMANDS: list[click.Command] = []

"""The command group loads an area's commands on use: its table must name each of them."""

import importlib

from click.testing import CliRunner

from coding_pipeline.cli import AREA_COMMANDS, cli

AREAS = ("segment", "transcripts", "labelstudio", "consensus", "analysis", "rois", "motion")


def test_the_table_names_every_area_command_and_nothing_else():
    found = {command.name: area for area in AREAS
             for command in importlib.import_module(f"coding_pipeline.cli.{area}").COMMANDS}
    assert found == AREA_COMMANDS


def test_help_lists_every_command_and_each_one_runs_its_help():
    runner = CliRunner()
    listed = runner.invoke(cli, ["--help"])
    assert listed.exit_code == 0
    for name in [*AREA_COMMANDS, "init", "demo", "report"]:
        assert f"\n  {name} " in listed.output
        shown = runner.invoke(cli, [name, "--help"])
        assert shown.exit_code == 0 and "Usage: " in shown.output, name
    unknown = runner.invoke(cli, ["segmnet"])
    assert unknown.exit_code == 2 and "No such command 'segmnet'" in unknown.output

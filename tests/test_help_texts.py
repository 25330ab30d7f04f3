"""Every command's ``--help`` as typer renders it (rich markup): nothing in square brackets is eaten.

Rich reads ``[video]`` as a style tag and drops it, so ``pip install "svdlens[video]"`` would
show as ``pip install "svdlens"``; the help texts escape it as ``\\[video]``. Here each install
line is taken from the source of the help (the docstring and every option's help), with the
escape undone, and must appear as written in the rendered ``--help``.
"""

from __future__ import annotations

import re

import pytest
import typer.rich_utils
from typer.main import get_command
from typer.testing import CliRunner

from svdlens.cli import app

runner = CliRunner()
ROOT = get_command(app)
COMMANDS = sorted(ROOT.commands)  # type: ignore[attr-defined]  (a group: its commands by name)

# pip install "svdlens[video]" or pip install -e ".[bench]" (with or without rich's escape)
INSTALL = re.compile(r'pip install (?:-e )?"(?:svdlens|\.)\\?\[[^\]"]*\]"')
EATEN = re.compile(r'pip install (?:-e )?"(?:svdlens|\.)"')


def sources(command) -> list[str]:
    """The help text of a command as written in the source: its docstring and its parameters' help."""
    return [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]


def rendered_help(name: str, monkeypatch) -> str:
    """``svdlens NAME --help`` as typer renders it, wide enough that no install line is wrapped."""
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 400)
    res = runner.invoke(app, [name, "--help"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    return re.sub(r"[\s│]+", " ", res.output)  # table borders and line breaks out of the way


def test_every_command_the_help_lists_is_checked(monkeypatch):
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 400)
    res = runner.invoke(app, ["--help"], env={"COLUMNS": "400"})
    assert res.exit_code == 0
    listed = re.findall(r"^│ (\S+) ", res.output.split("Commands")[1], flags=re.M)
    assert sorted(listed) == COMMANDS
    assert {"video", "app", "bench", "demo"} <= set(COMMANDS)


def test_the_extras_are_mentioned_in_help_texts():
    """The check below has something to check: the video, app and bench commands name their extras."""
    found = {name: [m for t in sources(ROOT.commands[name]) for m in INSTALL.findall(t)] for name in COMMANDS}
    assert found["video"] and found["app"] and found["bench"], found


@pytest.mark.parametrize("name", COMMANDS)
def test_help_keeps_the_square_brackets_of_pip_install(name, monkeypatch):
    shown = rendered_help(name, monkeypatch)
    for text in sources(ROOT.commands[name]):
        for mention in INSTALL.findall(" ".join(text.split())):
            want = mention.replace("\\[", "[")
            assert want in shown, f"svdlens {name} --help should say {want}; it says: {shown}"
    assert not EATEN.search(shown), f"svdlens {name} --help lost the [extra] of a pip install: {shown}"

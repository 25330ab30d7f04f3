"""What every command shares: the typer app, error handling, progress, and how results are printed.

Each command module registers itself on :data:`app` and calls the library inside
:func:`handled`, the one ``except`` of the command line: every svdlens error becomes a red
one-line message and exit code 2, and the notes the library warned about are shown after the
results. ``--quiet`` turns progress bars and spinners off; ``--json`` prints the command's summary
as JSON on stdout instead of text (progress then goes nowhere, notes and errors to stderr).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from .. import _defaults
from .._atomic import check_output_folder
from .._progress import Progress
from .._validation import check_int
from ..exceptions import SvdlensError, SvdlensWarning

__all__ = [
    "app",
    "console",
    "err_console",
    "fail",
    "refuse_unused",
    "handled",
    "progress_bar",
    "status",
    "emit",
    "out_option",
    "QUIET",
    "JSON",
    "FORCE",
]

app = typer.Typer(
    name="svdlens",
    help="The singular value decomposition, from a 2×2 matrix to the Jacobian of a diffusion model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or spinner (for scripts and logs).")
JSON = typer.Option(False, "--json", help="Print the results as JSON on stdout instead of text.")
FORCE = typer.Option(False, "--force", help="Replace files in --out that svdlens did not write.")


def _checked_out(value: str | None) -> str | None:
    with handled():
        if value is not None:
            check_output_folder(value)
    return value


def out_option(default: str | None, help: str) -> Any:
    """The ``--out`` option of a command that writes files: checked while the flags are read, before any work."""
    return typer.Option(default, "--out", help=help, callback=_checked_out)


@app.callback()
def main(
    ctx: typer.Context,
    max_pixels: int = typer.Option(
        _defaults.MAX_PIXELS, "--max-pixels", help="The largest image (width × height) any command reads."
    ),
) -> None:
    """svdlens: SVD from first principles to matrix-free Jacobians."""
    with handled():
        limit = check_int("--max-pixels", max_pixels, high=2**31)
    ctx.with_resource(_defaults.pixel_limit(limit))  # for the command that runs inside this context


def fail(message: str) -> NoReturn:
    """Print ``error: message`` in red on stderr and exit with code 2."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # paths stay whole
    raise typer.Exit(code=2)


def refuse_unused(*rules: tuple[str, object, bool, str]) -> None:
    """End the command if an option was given where it would have no effect.

    Each rule is ``(flag, value, unused, why)``: when the user gave ``flag`` (its ``value`` is
    not None and not False: such options default to None, so that giving one can be told
    from leaving it out) and ``unused`` holds, the command stops with ``error: FLAG WHY``
    before any work. No option is accepted and ignored.
    """
    for flag, value, unused, why in rules:
        if unused and value is not None and value is not False:
            fail(f"{flag} {why}")


@contextmanager
def handled() -> Iterator[None]:
    """Run library calls: svdlens errors end the command cleanly; warnings are shown as notes after.

    Notes and warnings go to stderr even with ``--quiet`` (as errors do): they say what was
    skipped or changed in the user's input.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SvdlensWarning)
        try:
            yield
        except SvdlensError as err:
            fail(str(err))
        finally:
            for w in caught:
                if issubclass(w.category, SvdlensWarning):
                    kind = "note" if w.category.__name__ in ("InputNote", "SkippedFilesWarning") else "warning"
                    err_console.print(f"[yellow]{kind}:[/] {escape(str(w.message))}", soft_wrap=True)


@contextmanager
def progress_bar(quiet: bool, label: str = "working") -> Iterator[Progress]:
    """A rich progress bar driven by the library's ``progress(done, total, label)`` calls, or None."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what or label)

        yield update


def emit(summary: dict[str, Any], *, as_json: bool, text: list[str]) -> None:
    """Print the results: the summary as JSON (``--json``), else the text lines."""
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        for line in text:
            console.print(line, highlight=False, markup=False)


@contextmanager
def status(quiet: bool, message: str) -> Iterator[None]:
    """A spinner with ``message`` while the block runs, unless quiet."""
    if quiet:
        yield
        return
    with err_console.status(message):
        yield

"""``svdlens bench``: run a side-by-side benchmark from a source checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from ._main import app, fail

__all__ = ["bench_command", "bench_dir"]


def bench_dir() -> Path | None:
    """The benchmarks live beside the package in a source checkout, not inside it."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (base / "bench").is_dir():
            return base / "bench"
    return None


@app.command("bench")
def bench_command(
    name: str = typer.Argument("svd", help="Which benchmark: the name of a bench/NAME.py script."),
    quick: bool = typer.Option(False, "--quick", help="Small sizes: a smoke run."),
) -> None:
    """Run a side-by-side benchmark and write bench/results/NAME.md and .json.

    Needs a source checkout (the benchmarks are not installed) and the bench extra:
    pip install -e ".\\[bench]".

    Examples:

        svdlens bench svd

        svdlens bench svd --quick
    """
    folder = bench_dir()
    if folder is None:
        fail("no bench/ folder here: run this from a source checkout of svdlens")
    known = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    if name not in known:  # a name, never a path: only the scripts in bench/ run
        fail(f"no benchmark {name!r}; choose one of {', '.join(known)}")
    script = folder / f"{name}.py"
    raise typer.Exit(subprocess.call([sys.executable, str(script)] + (["--quick"] if quick else [])))

"""``svdlens explain``: every scene of the script for a small matrix."""

from __future__ import annotations

from typing import Optional

import numpy as np
import typer

from .._validation import check_choice
from ..linalg import parse_vector, read_matrix
from ..scenes import explain
from ._main import FORCE, JSON, QUIET, app, emit, handled, out_option, refuse_unused, status

__all__ = ["explain_command"]


@app.command("explain")
def explain_command(
    matrix: str = typer.Argument(..., help='The matrix as text ("0.4 0.2; 1 3") or a .npy/.csv/... file.'),
    out: Optional[str] = out_option(None, help="Folder for the figures (PNG), animations (GIF) and explanation.md."),
    vector: Optional[str] = typer.Option(None, "--vector", help='The input of the projection scene, e.g. "2 1".'),
    only: Optional[list[str]] = typer.Option(None, "--only", help="Only this scene (repeatable)."),
    format: Optional[str] = typer.Option(
        None, "--format", help="The walk-through written with --out: md (the default) or html."
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Every scene of the SVD story for a small matrix: numbers in the terminal, pictures with --out.

    Examples:

        svdlens explain "0.4 0.2; 1 3" --vector "2 1"

        svdlens explain "2 1; 1 3" --out out/explain --only rotate_scale_rotate

        svdlens explain "1 2; 0 1; 1 0" --out out/explain3d --format html
    """
    refuse_unused(
        ("--format", format, out is None, "is the form of the walk-through written with --out; give --out DIR"),
        ("--force", force, out is None, "replaces files in --out; without --out nothing is written"),
    )
    with handled():
        format = check_choice("--format", format or "md", ("md", "html"))
        A = read_matrix(matrix)
        x = parse_vector(vector) if vector else None
        ex = explain(np.asarray(A.toarray() if hasattr(A, "toarray") else A), vector=x, only=only)
        written = []
        if out:
            with status(quiet or as_json, "drawing the scenes..."):
                written = ex.save(out, format=format, force=force)
    summary = {"scenes": [s.name for s in ex.scenes], "text": ex.text(), "written": [str(p) for p in written]}
    text = [ex.text()] + ([f"wrote {len(written)} files to {out}/"] if out else [])
    emit(summary, as_json=as_json, text=text)

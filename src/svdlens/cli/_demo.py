"""``svdlens demo``: the whole story on built-in data, as one offline HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..report import run_demo
from ._main import FORCE, JSON, QUIET, app, emit, handled, out_option, progress_bar

__all__ = ["demo_command"]


@app.command("demo")
def demo_command(
    out: str = out_option("out/demo", help="Folder for index.html, its figures and summary.json."),
    fast: bool = typer.Option(False, "--fast", help="A reduced setting: fewer DDIM steps, directions and faces."),
    model: str = typer.Option(
        "builtin",
        "--model",
        help="builtin, or a diffusers folder (DDPM/DDIM pipeline, Stable Diffusion, UNet2DModel) for the model's sections.",
    ),
    cache_dir: Optional[str] = typer.Option(
        None, "--cache-dir", help="Where local bases are kept between runs (default OUT/cache)."
    ),
    open_report: bool = typer.Option(False, "--open", help="Open the report in the browser when done."),
    video: bool = typer.Option(
        False, "--video", help='Also render the Manim video scenes and show them (pip install "svdlens\\[video]").'
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """The whole story on built-in data, as one offline HTML report (OUT/index.html).

    Projection, change of basis, covariance, superposition, WᵀW, eigenvectors,
    rotate-scale-rotate, u = Av/σ, low rank, least squares, eigenfaces and the puzzle, the faded
    face, the face model's weight matrix, its Jacobian's local basis, edits, parallel transport
    and the generated image, in the script's order. About a minute on 2 CPU cores; a second run reuses
    the cached local bases.

    Examples:

        svdlens demo --out out/demo --open

        svdlens demo --fast --out /tmp/demo --quiet

        svdlens demo --video --out out/demo
    """
    with handled(), progress_bar(quiet or as_json, "demo") as bar:
        summary = run_demo(out, fast=fast, model=model, cache_dir=cache_dir, progress=bar, force=force, video=video)
    index = Path(out).resolve() / "index.html"
    emit(
        summary,
        as_json=as_json,
        text=[f"{len(summary['sections'])} scenes in {summary['seconds']:.0f} s; open {index}"],
    )
    if open_report:
        import webbrowser

        webbrowser.open(index.as_uri())

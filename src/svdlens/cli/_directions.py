"""``svdlens directions``: the local basis of x_t ↦ h at an image's x_t."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .._atomic import staged_output
from .._defaults import MAX_K
from .._plotting import save_figure
from .._validation import check_int
from ..diffusion import FacePipeline
from ..diffusion._figures import image_grid
from ..nets._figures import direction_images, spectrum_plot
from ._diffusion import MODEL, STEPS, T, check_t_steps, pipeline, start
from ._main import FORCE, JSON, QUIET, app, emit, handled, status

__all__ = ["directions_command", "run_directions"]


def run_directions(
    pipe: FacePipeline,
    out: str | Path,
    *,
    image: str | None = None,
    seed: int | None = None,
    t: float,
    k: int,
    steps: int,
    force: bool = False,
) -> dict:
    """Invert (or sample) to x_t, take the local basis there, and write its figures, basis and summary.

    Parameters
    ----------
    pipe : FacePipeline
        The diffusion model.
    out : str or pathlib.Path
        The output folder: ``spectrum.png``, ``directions.png``, ``start.png``,
        ``basis.safetensors`` and ``summary.json``.
    image : str, optional
        An image file, or ``builtin:N`` for the N-th built-in face, inverted to x_t.
        Give exactly one of ``image`` and ``seed``.
    seed : int, optional
        Take x_t where the sample generated from this seed passes at t.
    t : float
        Where x_t is in the diffusion, in (0, 1].
    k : int
        How many singular triplets.
    steps : int
        DDIM steps.
    force : bool
        Replace files in ``out`` that svdlens did not write.

    Returns
    -------
    dict
        The summary written to ``summary.json``: image or seed, t, k, the singular values
        and residuals, whether they converged, the JVP and VJP counts, the JVP mode and seconds.

    Raises
    ------
    SvdlensError
        Neither or both of ``image`` and ``seed``, an unreadable image, bad t, k or steps,
        or an output folder in the way.
    """
    t0 = time.perf_counter()
    img, xt = start(pipe, image, seed, t, steps)
    basis = pipe.directions(xt=xt, t=t, k=k, steps=steps)
    summary = {
        "image": image,
        "seed": seed,
        "t": t,
        "k": k,
        "singular_values": basis.s.tolist(),
        "residuals": basis.residuals.tolist(),
        "converged": basis.converged,
        "n_jvp": basis.n_jvp,
        "n_vjp": basis.n_vjp,
        "jvp_mode": basis.jvp_mode,
        "seconds": time.perf_counter() - t0,
    }
    protect = [image] if image and not image.startswith("builtin:") else []
    with staged_output(out, protect=protect, force=force) as stage:
        save_figure(spectrum_plot(basis), stage / "spectrum.png")
        save_figure(direction_images(basis), stage / "directions.png")
        save_figure(image_grid(np.asarray(img)[None, None], ["start"], ["image"]), stage / "start.png")
        basis.save(stage / "basis.safetensors")
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@app.command("directions")
def directions_command(
    model: str = MODEL,
    image: Optional[str] = typer.Option(
        None, "--image", help="An image file, or builtin:N for the N-th built-in face."
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Start from a generated sample instead."),
    t: float = T,
    k: int = typer.Option(5, "--k", "-k", help=f"Number of directions (at most {MAX_K})."),
    steps: int = STEPS,
    out: str = typer.Option(
        "out/directions", "--out", help="Folder for spectrum.png, directions.png, start.png, basis and summary."
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """The local basis of x_t ↦ h (the U-Net's mid-block) at an image's x_t: directions to edit along.

    Examples:

        svdlens directions --image builtin:3 -k 5 --out out/directions

        svdlens directions --seed 7 --t 0.6 --out out/directions7
    """
    with handled():
        t, steps = check_t_steps(t, steps)
        k = check_int("-k", k, high=MAX_K)
        with status(quiet or as_json, "DDIM inversion, then the local basis..."):
            summary = run_directions(pipeline(model), out, image=image, seed=seed, t=t, k=k, steps=steps, force=force)
    text = [
        "σ: "
        + ", ".join(f"{s:.4g}" for s in summary["singular_values"])
        + f"; {summary['seconds']:.1f} s; wrote {out}/"
    ]
    emit(summary, as_json=as_json, text=text)

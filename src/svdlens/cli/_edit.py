"""``svdlens edit``: move x_t along singular directions and denoise, a grid of edits."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from .._atomic import staged_output
from .._plotting import save_animation, save_figure
from .._validation import check_int
from ..diffusion import Pipeline
from ..diffusion._figures import grid_animation, image_grid
from ..diffusion._hspace import LOCAL_BASIS_DEFAULTS
from ._diffusion import (
    MAX_MEMORY,
    MODEL_FLAGS,
    STEPS,
    TOL,
    ModelChoice,
    T,
    check_basis_options,
    check_guidance_used,
    check_t_steps,
    is_builtin_spec,
    model_choice,
    model_flags,
    parse_strengths,
    pipeline,
    start,
)
from ._main import FORCE, JSON, QUIET, app, emit, handled, out_option, status

__all__ = ["edit_command", "run_edit"]

MAX_DIRECTIONS = 16
MAX_X_GUIDANCE = 100


def run_edit(
    pipe: Pipeline,
    out: str | Path,
    *,
    image: str | None = None,
    seed: int | None = None,
    directions: Sequence[int] = (1,),
    strengths: Sequence[float] = (-3, 0, 3),
    t: float,
    steps: int,
    x_guidance: int = 0,
    choice: ModelChoice | None = None,
    tol: float = LOCAL_BASIS_DEFAULTS["tol"],
    max_memory: str = LOCAL_BASIS_DEFAULTS["max_memory"],
    force: bool = False,
) -> dict:
    """Edit along each direction at each strength; write the grid as PNG, GIF and .npy with a summary.

    Parameters
    ----------
    pipe : Pipeline
        The diffusion model.
    out : str or pathlib.Path
        The output folder: ``edit.png``, ``edit.gif``, ``edit.npy`` (the grid,
        ``(directions, strengths, ...)``) and ``summary.json``.
    image : str, optional
        An image file, or ``builtin:N`` for the N-th built-in face, inverted to x_t.
        Give exactly one of ``image`` and ``seed``.
    seed : int, optional
        Take x_t where the sample generated from this seed passes at t.
    directions : sequence of int
        Which right singular vectors to move along, counted from 1.
    strengths : sequence of float
        The strengths γ of each move x_t + γ·v.
    t : float
        Where x_t is in the diffusion, in (0, 1].
    steps : int
        DDIM steps over the whole diffusion.
    x_guidance : int
        0 for the plain move, more for that many steps of x-space guidance (see
        :meth:`Pipeline.edit`).
    choice : ModelChoice, optional
        The prompt, negative prompt, guidance scale and layer of the command line.
    tol : float
        The residual tolerance of the local basis.
    max_memory : str
        The working-memory budget of its Jacobian products (``"4GB"``, say).
    force : bool
        Replace files in ``out`` that svdlens did not write.

    Returns
    -------
    dict
        The summary written to ``summary.json``: image or seed, t, directions, strengths,
        prompt, guidance, x-space guidance, tol, max_memory, the singular values and seconds.

    Raises
    ------
    SvdlensError
        Neither or both of ``image`` and ``seed``, an unreadable image, bad strengths, t or
        steps, or an output folder in the way.
    """
    t0 = time.perf_counter()
    choice = choice or model_choice()
    xt = start(pipe, image, seed, t, steps, choice, with_image=False).xt  # strength 0 is the image
    options: dict[str, Any] = {"layer": choice.layer, "tol": tol, "max_memory": max_memory}
    basis = pipe.directions(xt=xt, t=t, k=max(directions), steps=steps, prompt=choice.prompt, **options)
    rows = [
        pipe.edit(
            v=basis.v[d - 1],
            strengths=strengths,
            t=t,
            steps=steps,
            xt=xt,
            x_guidance=x_guidance,
            guidance_scale=choice.edit_guidance,
            **choice.text,
        )
        for d in directions
    ]
    grid = np.stack(rows)
    labels = [f"v{d}" for d in directions]
    cols = [f"{s:+g}" for s in strengths]
    summary = {
        "image": image,
        "seed": seed,
        "t": t,
        "directions": list(directions),
        "strengths": list(strengths),
        "prompt": choice.prompt,
        "negative_prompt": choice.negative_prompt,
        "guidance": choice.edit_guidance if pipe.has_text else None,  # the edits' denoising
        "sampling_guidance": pipe._guidance(choice.guidance) if seed is not None else None,  # a seed's start
        "layer": basis.layer,
        "x_guidance": x_guidance,
        "tol": tol,
        "max_memory": max_memory,
        "singular_values": basis.s.tolist(),
        "seconds": time.perf_counter() - t0,
    }
    protect = [image] if image and not is_builtin_spec(image) else []
    with staged_output(out, protect=protect, force=force) as stage:
        save_figure(image_grid(grid, labels, cols, "edits along the local basis"), stage / "edit.png")
        save_animation(grid_animation(grid, labels, cols), stage / "edit.gif", fps=3)
        np.save(stage / "edit.npy", grid)
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@app.command("edit")
@model_flags()
def edit_command(
    choice: ModelChoice = MODEL_FLAGS,
    image: Optional[str] = typer.Option(None, "--image", help="An image file, or builtin:N."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Start from a generated sample instead."),
    direction: list[int] = typer.Option([1], "--direction", help="Which singular direction (1 = the top); repeatable."),
    strength: str = typer.Option(
        "-3:3:7", "--strength", help="Signed strengths: start:stop:count, or a list like -2,0,2."
    ),
    t: float = T,
    steps: int = STEPS,
    tol: float = TOL,
    max_memory: str = MAX_MEMORY,
    x_guidance: int = typer.Option(
        0,
        "--x-guidance",
        help=f"x-space guidance iterations instead of a plain move (0 = plain, at most {MAX_X_GUIDANCE}).",
    ),
    out: str = out_option("out/edit", help="Folder for edit.png, edit.gif, edit.npy and summary.json."),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Move x_t along singular directions and denoise: a grid of edits (rows: directions, columns: strengths).

    Examples:

        svdlens edit --image builtin:3 --direction 1 --direction 2 --strength -3:3:7 --out out/edit

        svdlens edit --seed 7 --direction 1 --strength -2,0,2 --x-guidance 3

        svdlens edit --model ./sd-1-5 --image photo.png --prompt "a photo of a face" --device cuda --dtype float16
    """
    with handled():
        check_guidance_used(choice, sampling=seed is not None, denoising=True, without="")
        t, steps = check_t_steps(t, steps)
        strengths = parse_strengths(strength)
        if len(direction) > MAX_DIRECTIONS:
            check_int("the number of --direction", len(direction), high=MAX_DIRECTIONS)
        directions = tuple(check_int("--direction", d, high=64) for d in direction)
        x_guidance = check_int("--x-guidance", x_guidance, low=0, high=MAX_X_GUIDANCE)
        basis = check_basis_options(tol, max_memory)
        with status(quiet or as_json, "DDIM inversion, local basis, denoising..."):
            summary = run_edit(
                pipeline(choice),
                out,
                image=image,
                seed=seed,
                directions=directions,
                strengths=strengths,
                t=t,
                steps=steps,
                x_guidance=x_guidance,
                choice=choice,
                **basis,
                force=force,
            )
    text = [f"{len(direction)}×{len(strengths)} edits in {summary['seconds']:.1f} s; wrote {out}/edit.png and edit.gif"]
    emit(summary, as_json=as_json, text=text)

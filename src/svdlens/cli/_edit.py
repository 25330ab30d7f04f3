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
from .._defaults import MAX_X_GUIDANCE
from .._plotting import save_animation, save_figure
from .._validation import check_float, check_int
from ..diffusion import Pipeline
from ..diffusion._figures import grid_animation, image_grid
from ..diffusion._hspace import LOCAL_BASIS_DEFAULTS
from ..diffusion._local import MAX_OUTSIDE_WEIGHT, image_mask, model_mask
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
    parse_mask,
    parse_strengths,
    pipeline,
    start,
)
from ._main import FORCE, JSON, QUIET, app, emit, handled, out_option, refuse_unused, status

__all__ = ["edit_command", "run_edit"]

MAX_DIRECTIONS = 16


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
    follow: int = 0,
    mask: Any = None,
    r: int = 5,
    outside_weight: float | None = None,
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
    follow : int
        With ``x_guidance``: 0 keeps the direction fixed; k recomputes a k-direction basis at
        each guidance step, warm-started from the last, and follows the direction nearest
        (:meth:`Pipeline.guidance_path`).
    mask : box or boolean image, optional
        Edit inside this region only (LOCO Edit, :meth:`Pipeline.local_directions`): the
        directions are those of x̂0 inside the mask, projected away from the top ``r`` outside.
        None: the h-space directions of :meth:`Pipeline.directions`.
    r : int
        With ``mask``: how many outside directions to project out.
    outside_weight : float, optional
        With ``mask``: find the directions by ``method="contrast"`` instead, pricing each unit
        of change outside the mask at this weight μ (``r`` is then not used).
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
        prompt, guidance, x-space guidance and follow, tol, max_memory, the singular values (for
        contrast directions their eigenvalues, residuals and products instead), whether the local
        directions converged, and the seconds.

    Raises
    ------
    SvdlensError
        Neither or both of ``image`` and ``seed``, an unreadable image, bad strengths, t or
        steps, or an output folder in the way.
    """
    t0 = time.perf_counter()
    choice = choice or model_choice()
    if mask is not None:  # a bad mask is refused before the inversion
        model_mask(image_mask(mask, pipe.image_size, pipe.image_size), pipe.size)
    xt = start(pipe, image, seed, t, steps, choice, with_image=False).xt  # strength 0 is the image
    options: dict[str, Any] = {"layer": choice.layer, "tol": tol, "max_memory": max_memory}
    if mask is None:
        basis = pipe.directions(xt=xt, t=t, k=max(directions), steps=steps, prompt=choice.prompt, **options)
        moves, s, local = basis.v, basis.s, None
    else:
        how: dict[str, Any] = (
            {"r": r} if outside_weight is None else {"method": "contrast", "outside_weight": outside_weight}
        )
        local = pipe.local_directions(
            xt=xt, mask=mask, t=t, k=max(directions), steps=steps, prompt=choice.prompt, tol=tol,
            max_memory=max_memory, **how,
        )  # fmt: skip
        moves, s = local.v, local.s
    rows = [
        pipe.edit(
            v=moves[d - 1],
            strengths=strengths,
            t=t,
            steps=steps,
            xt=xt,
            x_guidance=x_guidance,
            follow=follow,
            guidance_scale=choice.edit_guidance,
            **choice.text,
        )
        for d in directions
    ]
    grid = np.stack(rows)
    contrast = local.contrast if local is not None else None
    local_name = "LOCO Edit" if contrast is None else "the whole outside priced (contrast)"
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
        "layer": basis.layer if local is None else None,
        "map": "h (x_t ↦ the U-Net's block)" if local is None else f"x̂0 inside the mask ({local_name})",
        "mask_pixels": None if local is None else int(local.mask.sum()),
        "r": None if local is None or contrast is not None else local.r,
        "outside_weight": None if contrast is None else contrast.weight,
        "leakage": None if local is None else local.leakage.tolist(),
        "leakage_without_projection": None if local is None else local.leakage_before.tolist(),
        "x_guidance": x_guidance,
        "follow": follow,
        "tol": tol,
        "max_memory": max_memory,
        "singular_values": None if contrast is not None else s.tolist(),
        "contrast": None
        if contrast is None
        else {
            "eigenvalues": contrast.values.tolist(),  # θᵢ = ‖M J vᵢ‖² − μ‖(1−M) J vᵢ‖²
            "residuals": contrast.residuals.tolist(),
            "products": contrast.n_products,
        },
        "converged": None if local is None else local.converged,
        "seconds": time.perf_counter() - t0,
    }
    protect = [image] if image and not is_builtin_spec(image) else []
    with staged_output(out, protect=protect, force=force) as stage:
        title = "edits along the local basis" if local is None else f"edits inside the mask ({local.setting})"
        save_figure(image_grid(grid, labels, cols, title), stage / "edit.png")
        save_animation(grid_animation(grid, labels, cols), stage / "edit.gif", fps=3)
        np.save(stage / "edit.npy", grid)
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@app.command("edit")
@model_flags()
def edit_command(
    choice: ModelChoice = MODEL_FLAGS,
    image: Optional[str] = typer.Option(
        None, "--image", help="An image file, world:N or world:scary-face (the face world), or builtin:N (a real face)."
    ),
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
    follow: int = typer.Option(
        0,
        "--follow",
        help="With --x-guidance: recompute a basis of this many directions at every guidance step (warm-started "
        "from the last) and follow the direction nearest the last one (0 = keep the direction fixed).",
    ),
    mask: Optional[str] = typer.Option(
        None,
        "--mask",
        help="Edit only this region (LOCO Edit): a box x0,y0,x1,y1 in the model's image pixels, or a black-and-white "
        "image of that size (white = inside).",
    ),
    r: Optional[int] = typer.Option(
        None, "--r", help="With --mask: outside directions projected out, so the rest stays put (default 5)."
    ),
    outside_weight: Optional[float] = typer.Option(
        None,
        "--outside-weight",
        help="With --mask: weigh every change outside the mask by this price μ instead of projecting out --r "
        "directions (method 'contrast'; try 4, more leaks less and costs more).",
    ),
    out: str = out_option("out/edit", help="Folder for edit.png, edit.gif, edit.npy and summary.json."),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Move x_t along singular directions and denoise: a grid of edits (rows: directions, columns: strengths).

    Examples:

        svdlens edit --image world:scary-face --direction 1 --direction 2 --strength -3:3:7 --out out/edit

        svdlens edit --seed 7 --direction 1 --strength -2,0,2 --x-guidance 3

        svdlens edit --seed 7 --direction 1 --strength 2 --x-guidance 4 --follow 5

        svdlens edit --image world:scary-face --mask 22,38,42,50 --r 5 --t 0.6 --out out/mouth

        svdlens edit --image world:scary-face --mask 22,38,42,50 --outside-weight 4 --strength 0,3 --out out/mouth

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
        refuse_unused(
            ("--r", r, mask is None, "is the number of outside directions of --mask; give --mask too"),
            ("--outside-weight", outside_weight, mask is None, "prices the outside of --mask; give --mask too"),
            (
                "--r",
                r,
                outside_weight is not None,
                "does not combine with --outside-weight, which weighs the whole outside",
            ),
        )
        follow = check_int("--follow", follow, low=0, high=64)
        refuse_unused(
            (
                "--follow",
                follow or None,
                not x_guidance,
                "recomputes the basis along --x-guidance; give --x-guidance too",
            ),
            (
                "--follow",
                follow or None,
                mask is not None,
                "follows the h-space basis; it does not combine with --mask",
            ),
        )
        region = None if mask is None else parse_mask(mask)
        r = check_int("--r", 5 if r is None else r, low=0, high=64)
        if outside_weight is not None:
            outside_weight = check_float(
                "--outside-weight", outside_weight, low=0.0, low_open=True, high=MAX_OUTSIDE_WEIGHT
            )
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
                follow=follow,
                mask=region,
                r=r,
                outside_weight=outside_weight,
                choice=choice,
                **basis,
                force=force,
            )
    text = [f"{len(direction)}×{len(strengths)} edits in {summary['seconds']:.1f} s; wrote {out}/edit.png and edit.gif"]
    emit(summary, as_json=as_json, text=text)

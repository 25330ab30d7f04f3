"""``svdlens transport``: carry one image's direction to other images, and edit them with it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from .._atomic import staged_output
from .._defaults import DEFAULT_K, MAX_K
from .._plotting import save_animation, save_figure
from .._validation import check_choice, check_float, check_int
from ..diffusion import Pipeline
from ..diffusion._figures import grid_animation, image_grid
from ..diffusion._hspace import LOCAL_BASIS_DEFAULTS
from ..nets import TRANSPORT_METHODS
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
    label,
    model_choice,
    model_flags,
    parse_strengths,
    pipeline,
    start,
)
from ._main import FORCE, JSON, QUIET, app, emit, fail, handled, out_option, status

__all__ = ["transport_command", "run_transport"]

MAX_TARGETS = 16


def run_transport(
    pipe: Pipeline,
    out: str | Path,
    *,
    source: str,
    targets: list[str],
    direction: int = 1,
    strengths: Sequence[float] = (-3, 0, 3),
    t: float,
    steps: int,
    k: int = DEFAULT_K,
    method: str = "project",
    damp: float | None = None,
    choice: ModelChoice | None = None,
    tol: float = LOCAL_BASIS_DEFAULTS["tol"],
    max_memory: str = LOCAL_BASIS_DEFAULTS["max_memory"],
    force: bool = False,
) -> dict:
    """Carry direction ``direction`` of ``source`` to each target; write the edit grid and a summary.

    Parameters
    ----------
    pipe : Pipeline
        The diffusion model.
    out : str or pathlib.Path
        The output folder: ``transport.png``, ``transport.gif`` and ``summary.json``.
    source : str
        The image whose direction is carried: a file, or ``builtin:N``.
    targets : list of str
        The images it is carried to: files, or ``builtin:N``.
    direction : int
        Which of the source's right singular vectors, counted from 1.
    strengths : sequence of float
        The strengths γ of each edit x_t + γ·v, the same for every row.
    t : float
        Where x_t is in the diffusion, in (0, 1].
    steps : int
        DDIM steps each way.
    k : int
        How many singular triplets each target's basis has.
    method : {"project", "lsqr"}
        As for :func:`svdlens.transport`.
    damp : float, optional
        As for :func:`svdlens.transport`.
    choice : ModelChoice, optional
        The prompt, negative prompt, guidance scale and layer of the command line.
    tol : float
        The residual tolerance of each local basis.
    max_memory : str
        The working-memory budget of their Jacobian products (``"4GB"``, say).
    force : bool
        Replace files in ``out`` that svdlens did not write.

    Returns
    -------
    dict
        The summary written to ``summary.json``: source, targets, direction, strengths, t,
        method, damp, tol, max_memory, ``kept`` and ``gain`` per target, the source's σ and seconds.

    Raises
    ------
    SvdlensError
        An unreadable image, bad strengths, t, steps or k, or an output folder in the way.
    """
    t0 = time.perf_counter()
    choice = choice or model_choice()
    where: dict[str, Any] = {"t": t, "steps": steps, "prompt": choice.prompt}
    edit: dict[str, Any] = {**where, "negative_prompt": choice.negative_prompt, "strengths": strengths}
    edit["guidance_scale"] = choice.edit_guidance
    basis: dict[str, Any] = {"layer": choice.layer, "tol": tol, "max_memory": max_memory}
    xt_src = start(pipe, source, None, t, steps, choice).xt
    b_src = pipe.directions(xt=xt_src, k=max(k, direction), **basis, **where)
    rows = [pipe.edit(v=b_src.v[direction - 1], xt=xt_src, **edit)]
    kept, gains = [], []
    for target in targets:
        xt = start(pipe, target, None, t, steps, choice).xt
        b = pipe.directions(xt=xt, k=k, **basis, **where)
        moved = pipe.transport(b_src, direction - 1, [b], method=method, damp=damp)[0]
        kept.append(moved.kept)
        gains.append(moved.gain)
        rows.append(pipe.edit(v=moved.v, xt=xt, **edit))
    grid = np.stack(rows)
    labels = [f"{label(source)} (source)"] + [label(tg) for tg in targets]
    cols = [f"{s:+g}" for s in strengths]
    summary = {
        "source": source,
        "targets": list(targets),
        "direction": direction,
        "strengths": list(strengths),
        "t": t,
        "method": method,
        "damp": damp,
        "tol": tol,
        "max_memory": max_memory,
        "prompt": choice.prompt,
        "negative_prompt": choice.negative_prompt,
        "guidance": choice.edit_guidance if pipe.has_text else None,  # the edits' denoising
        "layer": b_src.layer,
        "kept": kept,
        "gain": gains,
        "source_sigma": float(b_src.s[direction - 1]),
        "seconds": time.perf_counter() - t0,
    }
    protect = [p for p in [source, *targets] if not is_builtin_spec(p)]
    with staged_output(out, protect=protect, force=force) as stage:
        save_figure(
            image_grid(grid, labels, cols, f"direction {direction} carried to other images"), stage / "transport.png"
        )
        save_animation(grid_animation(grid, labels, cols), stage / "transport.gif", fps=3)
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@app.command("transport")
@model_flags()
def transport_command(
    source: str = typer.Option(
        ..., "--from", help="The image whose direction is carried (a file, world:N or builtin:N)."
    ),
    targets: list[str] = typer.Option(
        ..., "--to", help=f"Target images (repeat --to for each; at most {MAX_TARGETS})."
    ),
    choice: ModelChoice = MODEL_FLAGS,
    direction: int = typer.Option(1, "--direction", help="Which singular direction of the source (1 = the top)."),
    strength: str = typer.Option(
        "-3:3:5", "--strength", help="Signed strengths: start:stop:count, or a list like -2,0,2."
    ),
    t: float = T,
    k: int = typer.Option(DEFAULT_K, "--k", "-k", help="Size of each target's local basis."),
    steps: int = STEPS,
    tol: float = TOL,
    max_memory: str = MAX_MEMORY,
    method: str = typer.Option(
        "project",
        "--method",
        help="project: onto each target's top-k basis (Park et al. 2023). "
        "lsqr: damped least squares on each target's whole Jacobian.",
    ),
    damp: Optional[float] = typer.Option(
        None,
        "--damp",
        help="Damping for --method lsqr (default: the target's "
        "k-th singular value). Smaller carries more of the direction, moves less.",
    ),
    out: str = out_option("out/transport", help="Folder for transport.png, transport.gif and summary.json."),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Carry one image's direction to other images by parallel transport, and edit them with it.

    Examples:

        svdlens transport --from world:3 --to world:scary-face --to world:20 --direction 1 --out out/transport

        svdlens transport --from world:3 --to world:10 --method lsqr --out out/transport

        svdlens transport --model ./sd-1-5 --from a.png --to b.png --prompt "a portrait" --device cuda
    """
    with handled():
        check_choice("--method", method, TRANSPORT_METHODS)
        if damp is not None and method != "lsqr":
            fail("--damp is the damping of --method lsqr; give --method lsqr too, or leave --damp out")
        check_guidance_used(choice, sampling=False, denoising=True, without="")
        if damp is not None:
            damp = check_float("--damp", damp, low=0.0)
        t, steps = check_t_steps(t, steps)
        k = check_int("-k", k, high=MAX_K)
        direction = check_int("--direction", direction, high=MAX_K)
        check_int("the number of --to", len(targets), high=MAX_TARGETS)
        strengths = parse_strengths(strength)
        basis = check_basis_options(tol, max_memory)
        with status(quiet or as_json, "DDIM inversion, local bases, transport, denoising..."):
            summary = run_transport(
                pipeline(choice),
                out,
                source=source,
                targets=targets,
                direction=direction,
                strengths=strengths,
                t=t,
                steps=steps,
                k=k,
                method=method,
                damp=damp,
                choice=choice,
                **basis,
                force=force,
            )
    per_target = ", ".join(f"{kp:.2f} (gain {g:.1f})" for kp, g in zip(summary["kept"], summary["gain"]))
    text = [
        f"share of the direction kept ({method}): {per_target}; the source's σ is {summary['source_sigma']:.1f}; "
        f"wrote {out}/"
    ]
    emit(summary, as_json=as_json, text=text)

"""``svdlens directions``: the local basis of x_t ↦ h at an image's x_t, or the directions many images share."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from .._atomic import staged_output
from .._defaults import DEFAULT_K, MAX_K
from .._plotting import save_figure
from .._progress import Progress
from .._validation import check_float, check_int, check_optional_int
from ..diffusion import Pipeline, global_directions
from ..diffusion._figures import image_grid, prompt_angles_figure
from ..diffusion._global import _image_items, global_figure
from ..diffusion._hspace import LOCAL_BASIS_DEFAULTS
from ..exceptions import InvalidParameterError
from ..nets._figures import direction_images, spectrum_plot
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
    pipeline,
    start,
)
from ._main import FORCE, JSON, QUIET, app, emit, fail, handled, out_option, progress_bar, refuse_unused, status

__all__ = ["directions_command", "run_directions", "run_global_directions", "default_cache"]

MAX_COMPARE = 8  # prompts compared with --prompt in one run: one local basis each


def run_directions(
    pipe: Pipeline,
    out: str | Path,
    *,
    image: str | None = None,
    seed: int | None = None,
    t: float,
    k: int,
    steps: int,
    choice: ModelChoice | None = None,
    compare: list[str] | None = None,
    tol: float = LOCAL_BASIS_DEFAULTS["tol"],
    max_memory: str = LOCAL_BASIS_DEFAULTS["max_memory"],
    force: bool = False,
) -> dict:
    """Invert (or sample) to x_t, take the local basis there, and write its figures, basis and summary.

    Parameters
    ----------
    pipe : Pipeline
        The diffusion model.
    out : str or pathlib.Path
        The output folder: ``spectrum.png``, ``directions.png``, ``start.png``,
        ``basis.safetensors`` and ``summary.json``; with ``compare``, also ``prompts.png`` and
        ``prompt-distances.png`` (the prompts' distance matrix).
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
        DDIM steps over the whole diffusion.
    choice : ModelChoice, optional
        The prompt, negative prompt, guidance and layer of the command line.
    compare : list of str, optional
        Other prompts: the basis at the same x_t under each, and the principal angles to the
        first prompt's (:meth:`Pipeline.compare_prompts`).
    tol : float
        The residual tolerance of each basis.
    max_memory : str
        The working-memory budget of the Jacobian products (``"4GB"``, say).
    force : bool
        Replace files in ``out`` that svdlens did not write.

    Returns
    -------
    dict
        The summary written to ``summary.json``: image or seed, t, k, prompt, layer, tol,
        max_memory, the singular values and residuals, whether they converged, the JVP and VJP
        counts, the JVP mode, the principal angles to each compared prompt (degrees), the
        prompts' Grassmann distance matrices (v and u) and seconds.

    Raises
    ------
    SvdlensError
        Neither or both of ``image`` and ``seed``, an unreadable image, bad t, k or steps,
        or an output folder in the way.
    """
    t0 = time.perf_counter()
    choice = choice or model_choice()
    if compare and not pipe.has_text:
        raise InvalidParameterError("--compare-prompt needs a text model (a Stable Diffusion folder)")
    point = start(pipe, image, seed, t, steps, choice)
    options: dict[str, Any] = {"layer": choice.layer, "tol": tol, "max_memory": max_memory}
    comparison = None
    if compare:
        prompts = [choice.prompt or "", *compare]
        comparison = pipe.compare_prompts(xt=point.xt, prompts=prompts, t=t, k=k, steps=steps, **options)
        basis = comparison.bases[0]
    else:
        basis = pipe.directions(xt=point.xt, t=t, k=k, steps=steps, prompt=choice.prompt, **options)
    summary: dict[str, Any] = {
        "image": image,
        "seed": seed,
        "t": t,
        "k": k,
        "prompt": choice.prompt,
        "negative_prompt": choice.negative_prompt,
        "guidance": pipe._guidance(choice.guidance) if seed is not None else None,  # a seed's sampling only
        "layer": basis.layer,
        "tol": tol,
        "max_memory": max_memory,
        "singular_values": basis.s.tolist(),
        "residuals": basis.residuals.tolist(),
        "converged": basis.converged,
        "n_jvp": basis.n_jvp,
        "n_vjp": basis.n_vjp,
        "jvp_mode": basis.jvp_mode,
    }
    if comparison is not None:
        summary["compared"] = {
            prompt: {
                "angles_v_degrees": np.degrees(comparison.angles_v[0, j]).tolist(),
                "angles_u_degrees": np.degrees(comparison.angles_u[0, j]).tolist(),
                "singular_values": comparison.bases[j].s.tolist(),
            }
            for j, prompt in enumerate(comparison.prompts[1:], start=1)
        }
        summary["prompt_distances"] = {
            "prompts": comparison.prompts,
            "grassmann_v": comparison.distances.tolist(),
            "grassmann_u": comparison.distances_u.tolist(),
        }
    summary["seconds"] = time.perf_counter() - t0
    protect = [image] if image and not is_builtin_spec(image) else []
    with staged_output(out, protect=protect, force=force) as stage:
        if comparison is not None:
            save_figure(prompt_angles_figure(comparison), stage / "prompts.png")
            save_figure(comparison.plot(), stage / "prompt-distances.png")
        save_figure(spectrum_plot(basis), stage / "spectrum.png")
        save_figure(direction_images(basis), stage / "directions.png")
        save_figure(image_grid(np.asarray(point.image)[None, :1], ["start"], ["image"]), stage / "start.png")
        basis.save(stage / "basis.safetensors")
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def default_cache() -> Path:
    """Where the command keeps each image's local basis between runs: ``$XDG_CACHE_HOME/svdlens/bases``.

    Returns
    -------
    pathlib.Path
        ``~/.cache/svdlens/bases`` when ``XDG_CACHE_HOME`` is not set.
    """
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "svdlens" / "bases"


def run_global_directions(
    model: str,
    images: str,
    out: str | Path,
    *,
    k: int,
    k_local: int | None = None,
    t: float,
    steps: int,
    scheduler: str | None = None,
    timeout: float = 10.0,
    cache_dir: str | Path | None = None,
    choice: ModelChoice | None = None,
    tol: float = LOCAL_BASIS_DEFAULTS["tol"],
    max_memory: str = LOCAL_BASIS_DEFAULTS["max_memory"],
    force: bool = False,
    progress: Progress = None,
) -> dict:
    """The directions many images share: every image's local basis, here or on a dask cluster, then their mean.

    Parameters
    ----------
    model : str
        ``builtin``, a diffusers model folder (at the same path on every worker), or a hub id.
    images : str
        A folder of images, or a ``.npy``/``.npz`` of ``(n, h, w)``.
    out : str or pathlib.Path
        The output folder: ``global_directions.safetensors`` (``directions``, ``agreement``,
        ``share``), ``directions.png`` and ``summary.json``.
    k : int
        How many shared directions.
    k_local : int, optional
        Triplets per image (default: ``k``).
    t : float
        Where x_t is in the diffusion, in (0, 1].
    steps : int
        DDIM steps.
    scheduler : str, optional
        A dask scheduler's address: one task per image there (default: one after another here).
    timeout : float
        Seconds to wait for ``scheduler``.
    cache_dir : str or pathlib.Path, optional
        Where each image's basis is kept between runs, so a rerun computes only what is missing.
    choice : ModelChoice, optional
        The device, dtype, prompt, negative prompt and layer of the command line.
    tol : float
        The residual tolerance of each image's basis.
    max_memory : str
        The working-memory budget of each basis's Jacobian products (``"4GB"``, say).
    force : bool
        Replace files in ``out`` that svdlens did not write.
    progress : callable, optional
        ``progress(done, total, label)`` after each image's basis.

    Returns
    -------
    dict
        The summary written to ``summary.json``: model, images, k, k_local, t, steps, the
        scheduler, tol, max_memory, each direction's agreement, how many bases were computed and
        how many came from the cache, how many converged, the cache folder and seconds.

    Raises
    ------
    SvdlensError
        Bad k, t or steps, no readable images, no scheduler answering, a model that does
        not load, or an output folder in the way.
    """
    from safetensors.torch import save_file

    t0 = time.perf_counter()
    choice = choice or model_choice(model)
    options = {key: value for key, value in {**choice.text, "layer": choice.layer}.items() if value is not None}
    # Options at the library's defaults stay out, so that the cached bases of earlier runs still match.
    basis = {"tol": tol, "max_memory": max_memory}
    options.update({key: value for key, value in basis.items() if value != LOCAL_BASIS_DEFAULTS[key]})
    result = global_directions(
        model,
        images,
        k,
        k_local=k_local,
        t=t,
        steps=steps,
        client=scheduler,
        cache_dir=cache_dir,
        progress=progress,
        timeout=timeout,
        device=None if choice.device == "cpu" else choice.device,
        dtype=None if choice.dtype == "float32" else choice.dtype,
        **options,
    )
    n = len(result.bases)
    summary = {
        "model": model,
        "images": str(images),
        "n_images": n,
        "k": result.k,
        "k_local": result.k_local,
        "t": result.t,
        "steps": result.steps,
        "scheduler": scheduler,
        "tol": tol,
        "max_memory": max_memory,
        "agreement": result.agreement.tolist(),
        "computed": len(result.computed),
        "from_cache": n - len(result.computed),
        "converged": sum(bool(b.converged) for b in result.bases),
        "cache": None if cache_dir is None else str(cache_dir),
        "names": result.names,
        "seconds": time.perf_counter() - t0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the notes about these images were shown once already
        items = _image_items(images)[0]
        shown = [items[i] for i in range(min(3, n))]
    tensors = {"directions": result.directions, "agreement": result.agreement, "share": result.share}
    tensors = {name: value.detach().contiguous().cpu() for name, value in tensors.items()}
    meta = {"svdlens": json.dumps({key: summary[key] for key in ("model", "k_local", "t", "steps", "names")})}
    with staged_output(out, protect=[images], force=force) as stage:
        save_figure(global_figure(result, shown), stage / "directions.png")
        save_file(tensors, str(stage / "global_directions.safetensors"), metadata=meta)
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@app.command("directions")
@model_flags()
def directions_command(
    choice: ModelChoice = MODEL_FLAGS,
    image: Optional[str] = typer.Option(
        None, "--image", help="An image file, world:N or world:scary-face (the face world), or builtin:N (a real face)."
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Start from a generated sample instead."),
    images: Optional[str] = typer.Option(
        None, "--images", help="With --global: a folder of images (or a .npy of (n, h, w))."
    ),
    shared: bool = typer.Option(
        False, "--global", help="The directions all of --images share (Park et al.'s global basis)."
    ),
    t: float = T,
    k: int = typer.Option(DEFAULT_K, "--k", "-k", help=f"Number of directions (at most {MAX_K})."),
    tol: float = TOL,
    max_memory: str = MAX_MEMORY,
    compare_prompt: Optional[list[str]] = typer.Option(
        None,
        "--compare-prompt",
        help="Another prompt (repeatable; Stable Diffusion): the basis at the same x_t under it, and the principal "
        "angles to the --prompt basis (prompts.png), and all the prompts' distance matrix (prompt-distances.png).",
    ),
    k_local: Optional[int] = typer.Option(None, "--k-local", help="With --global: directions per image (default: -k)."),
    steps: int = STEPS,
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", help="With --global: a dask scheduler's address, one task per image (default: here)."
    ),
    scheduler_timeout: Optional[float] = typer.Option(
        None, "--scheduler-timeout", help="With --global: seconds to wait for --scheduler (default 10)."
    ),
    cache: Optional[str] = typer.Option(
        None,
        "--cache-dir",
        help="With --global: where each image's basis is kept between runs (default: ~/.cache/svdlens/bases).",
    ),
    cache_alias: Optional[str] = typer.Option(None, "--cache", hidden=True, help="The earlier name of --cache-dir."),
    no_cache: bool = typer.Option(False, "--no-cache", help="With --global: keep no bases between runs."),
    out: str = out_option(
        "out/directions", help="Folder for spectrum.png, directions.png, start.png, basis and summary."
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """The local basis of x_t ↦ h (the U-Net's mid-block) at an image's x_t: directions to edit along.

    With --global, the directions a folder of images share: each image's local basis (cached,
    so a rerun computes only what is missing), on a dask cluster with --scheduler.

    Examples:

        svdlens directions --image world:scary-face -k 5 --out out/directions

        svdlens directions --seed 7 --t 0.6 --out out/directions7

        svdlens directions --images faces/ --global -k 5 --scheduler tcp://10.0.0.5:8786 --out out/shared

        svdlens directions --model ./sd-2-1-base --image photo.png --prompt "a photo of a person" --compare-prompt "a painting of a person" --device cuda
    """
    if cache_alias is not None and cache not in (None, cache_alias):
        fail("give the folder once: --cache is the earlier name of --cache-dir")
    cache = cache or cache_alias
    if shared:
        with handled():
            if images is None:
                fail("--global needs --images DIR, a folder of the images whose directions to share")
            if image is not None or seed is not None:
                fail("--global takes its images from --images; leave out --image and --seed")
            if cache is not None and no_cache:
                fail("give --cache-dir DIR or --no-cache, not both")
            refuse_unused(
                (
                    "--scheduler-timeout",
                    scheduler_timeout,
                    scheduler is None,
                    "bounds the wait for --scheduler; give that too",
                )
            )
            check_guidance_used(
                choice, sampling=False, denoising=False, without="--global inverts its images without it"
            )
            t, steps = check_t_steps(t, steps)
            k = check_int("-k", k, high=MAX_K)
            k_local = check_optional_int("--k-local", k_local, high=MAX_K)
            timeout = check_float("--scheduler-timeout", scheduler_timeout or 10.0, low=0.0, low_open=True)
            basis = check_basis_options(tol, max_memory)
            cache_dir = None if no_cache else cache or default_cache()
            if compare_prompt:
                fail("--compare-prompt compares the bases of one image; leave out --global")
            with progress_bar(quiet or as_json, "local bases") as bar:
                summary = run_global_directions(
                    choice.model,
                    images,
                    out,
                    k=k,
                    k_local=k_local,
                    t=t,
                    steps=steps,
                    scheduler=scheduler,
                    timeout=timeout,
                    cache_dir=cache_dir,
                    choice=choice,
                    **basis,
                    force=force,
                    progress=bar,
                )
        agreement = ", ".join(f"{a:.2f}" for a in summary["agreement"])
        text = [
            f"{summary['k']} directions shared by {summary['n_images']} images (agreement {agreement}); "
            f"{summary['computed']} bases computed, {summary['from_cache']} from the cache; "
            f"{summary['seconds']:.1f} s; wrote {out}/"
        ]
        emit(summary, as_json=as_json, text=text)
        return
    extra = [
        flag
        for flag, given in (
            ("--images", images),
            ("--scheduler", scheduler),
            ("--k-local", k_local),
            ("--cache" if cache_alias is not None else "--cache-dir", cache),
            ("--no-cache", no_cache or None),
            ("--scheduler-timeout", scheduler_timeout),
        )
        if given is not None
    ]
    with handled():
        if extra:
            fail(
                f"{' and '.join(extra)} go{'es' if len(extra) == 1 else ''} with --global (the directions many images share)"
            )
        check_guidance_used(
            choice, sampling=seed is not None, denoising=False, without="an image is inverted without it"
        )
        t, steps = check_t_steps(t, steps)
        k = check_int("-k", k, high=MAX_K)
        basis = check_basis_options(tol, max_memory)
        if compare_prompt:
            check_int("the number of --compare-prompt", len(compare_prompt), high=MAX_COMPARE)
            for other in compare_prompt:
                model_choice(prompt=other)  # the same checks as --prompt
        with status(quiet or as_json, "DDIM inversion, then the local basis..."):
            summary = run_directions(
                pipeline(choice),
                out,
                image=image,
                seed=seed,
                t=t,
                k=k,
                steps=steps,
                choice=choice,
                compare=list(compare_prompt or []),
                **basis,
                force=force,
            )
    text = [
        "σ: "
        + ", ".join(f"{s:.4g}" for s in summary["singular_values"])
        + f"; {summary['seconds']:.1f} s; wrote {out}/"
    ]
    emit(summary, as_json=as_json, text=text)

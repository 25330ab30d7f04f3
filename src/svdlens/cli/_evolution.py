"""``svdlens evolution``: how the local basis of x_t ↦ h moves over t, and how alike it is across images."""

from __future__ import annotations

import inspect
import json
import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from .._atomic import staged_output
from .._defaults import MAX_K, MAX_STEPS
from .._plotting import save_figure
from .._progress import Progress
from .._validation import check_int
from ..diffusion import Pipeline
from ..diffusion._evolution import MAX_TS, BasisEvolution
from ..diffusion._figures import evolution_figure, spectra_figure
from ..diffusion._global import _image_items
from ..diffusion._hspace import LOCAL_BASIS_DEFAULTS
from ..exceptions import InvalidParameterError
from ._diffusion import (
    MAX_MEMORY,
    MODEL_FLAGS,
    STEPS,
    TOL,
    ModelChoice,
    check_basis_options,
    check_guidance_used,
    is_builtin_spec,
    model_choice,
    model_flags,
    pipeline,
    read_start_image,
)
from ._main import FORCE, JSON, QUIET, app, emit, handled, out_option, progress_bar, refuse_unused

__all__ = ["evolution_command", "run_evolution", "parse_ts", "MAX_IMAGES", "DEFAULT_TS", "DEFAULT_EVOLUTION_K"]

MAX_IMAGES = 16
"""The most images one evolution takes (each costs one local basis per t)."""

_LIBRARY = inspect.signature(Pipeline.basis_evolution).parameters
DEFAULT_TS: tuple[float, ...] = tuple(_LIBRARY["ts"].default)
"""The library's t grid (defined once, in :meth:`Pipeline.basis_evolution`)."""
DEFAULT_EVOLUTION_K: int = _LIBRARY["k"].default
"""The library's directions per basis."""


def parse_ts(text: str) -> list[float]:
    """``--t``: a list such as ``"0.9,0.7,0.5"``, 2 to MAX_TS distinct t's in (0, 1], in descending order."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidParameterError(f"--t is a list of t's in (0, 1] such as 0.9,0.7,0.5; got {text!r}") from None
    bad = [v for v in values if not (math.isfinite(v) and 0 < v <= 1)]
    if bad:
        raise InvalidParameterError(f"--t must be t's in (0, 1]; got {bad[0]:g}")
    if len(set(values)) != len(values):
        raise InvalidParameterError(f"--t lists a t twice; give distinct t's (got {text!r})")
    if not 2 <= len(values) <= MAX_TS:
        raise InvalidParameterError(
            f"--t needs 2 to {MAX_TS} t's (the basis is followed from one to the next); got {len(values)}"
        )
    return sorted(values, reverse=True)


def _check_sources(image: Sequence[str] | None, images: str | None) -> None:
    """Exactly one of ``--image`` (repeatable) and ``--images``."""
    if image and images is not None:
        raise InvalidParameterError("give --image (repeatable) or --images DIR, not both")
    if not image and images is None:
        raise InvalidParameterError("give --image builtin:N (repeatable; world:N or a file) or --images DIR")


def _read_images(image: Sequence[str] | None, images: str | None) -> tuple[np.ndarray, list[str]]:
    """The images of ``--image`` (each ``builtin:N``, ``world:N`` or a file) or ``--images`` (a folder or array)."""
    _check_sources(image, images)
    if image:
        check_int("the number of --image", len(image), high=MAX_IMAGES)
        arrays, names = [read_start_image(str(spec)) for spec in image], [str(spec) for spec in image]
    else:
        items, names = _image_items(images)
        check_int(f"the number of images in --images {images}", len(items), high=MAX_IMAGES)
        arrays = [np.asarray(items[i]) for i in range(len(items))]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        listing = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        flag = "--image" if image else "--images"
        raise InvalidParameterError(f"{flag}: the images must share one size and colour; got {listing}")
    return np.stack(arrays), names


def _finite(values: Any) -> Any:
    """Numbers for JSON: NaN (the homogeneity of one image) becomes null."""
    array = np.asarray(values, dtype=float)
    return (
        [None if not math.isfinite(v) else v for v in array.tolist()]
        if array.ndim == 1
        else [_finite(row) for row in array]
    )


def evolution_numbers(evolution: BasisEvolution, names: list[str]) -> dict[str, Any]:
    """What ``evolution.json`` holds: every number of the evolution but the directions themselves."""
    bases = evolution.bases
    return {
        "images": names,
        "ts": evolution.ts.tolist(),
        "warm": evolution.warm,
        "products": evolution.products.tolist(),
        "distances": {
            "across_t": evolution.across_t.tolist(),
            "across_t_projection": evolution.across_t_projection.tolist(),
            "across_images": evolution.across_images.tolist(),
        },
        "homogeneity": _finite(evolution.homogeneity),
        "mean_frequency": evolution.mean_frequency.tolist(),
        "frequencies": evolution.frequencies.tolist(),
        "frequency": evolution.frequency.tolist(),
        "singular_values": [[b.s.detach().cpu().double().tolist() for b in row] for row in bases],
        "residuals": [[b.residuals.detach().cpu().double().tolist() for b in row] for row in bases],
        "converged": [[bool(b.converged) for b in row] for row in bases],
    }


def run_evolution(
    pipe: Pipeline,
    out: str | Path,
    *,
    image: Sequence[str] | None = None,
    images: str | None = None,
    ts: Sequence[float] = DEFAULT_TS,
    k: int = DEFAULT_EVOLUTION_K,
    steps: int,
    warm: bool = True,
    choice: ModelChoice | None = None,
    tol: float = LOCAL_BASIS_DEFAULTS["tol"],
    max_memory: str = LOCAL_BASIS_DEFAULTS["max_memory"],
    force: bool = False,
    progress: Progress = None,
) -> dict:
    """Each image's local bases over the t's (:meth:`Pipeline.basis_evolution`); write the figures and numbers.

    Parameters
    ----------
    pipe : Pipeline
        The diffusion model.
    out : str or pathlib.Path
        The output folder: ``evolution.png``, ``spectra.png``, ``evolution.json`` and ``summary.json``.
    image : sequence of str, optional
        ``builtin:N``, ``world:N`` or image files. Give exactly one of ``image`` and ``images``.
    images : str, optional
        A folder of images, or a ``.npy``/``.npz`` of ``(n, h, w)``.
    ts : sequence of float
        2 to ``MAX_TS`` t's in (0, 1]; computed in descending order.
    k : int
        Directions per basis.
    steps : int
        DDIM steps over the whole diffusion.
    warm : bool
        Start each basis from the one at the t before (False: every basis cold).
    choice : ModelChoice, optional
        The prompt and layer of the command line.
    tol : float
        The residual tolerance of every basis.
    max_memory : str
        The working-memory budget of the Jacobian products (``"4GB"``, say).
    force : bool
        Replace files in ``out`` that svdlens did not write.
    progress : callable, optional
        ``progress(done, total, label)`` after each basis.

    Returns
    -------
    dict
        The summary written to ``summary.json``: model, images, t's, k, steps, warm, prompt,
        layer, tol, max_memory, the Jacobian products in all, how many bases converged, the
        homogeneity and mean radial frequency at each t, the Grassmann distances between
        neighbouring t's (first image) and seconds.

    Raises
    ------
    SvdlensError
        Neither or both of ``image`` and ``images``, unreadable images, bad t's, k or steps,
        or an output folder in the way.
    """
    t0 = time.perf_counter()
    choice = choice or model_choice()
    batch, names = _read_images(image, images)
    with warnings.catch_warnings(record=True) as caught:  # each image's notes come once per t: show them once
        warnings.simplefilter("always")
        evolution = pipe.basis_evolution(
            batch, ts, k, steps=steps, warm=warm, prompt=choice.prompt, layer=choice.layer, tol=tol,
            max_memory=max_memory, progress=progress,
        )  # fmt: skip
    for message in dict.fromkeys((w.category, str(w.message)) for w in caught):
        warnings.warn(message[1], message[0], stacklevel=2)
    numbers = evolution_numbers(evolution, names)
    first = evolution.across_t[0]
    summary: dict[str, Any] = {
        "model": choice.model,
        "images": names,
        "n_images": len(names),
        "ts": numbers["ts"],
        "k": k,
        "steps": steps,
        "warm": warm,
        "prompt": choice.prompt,
        "layer": evolution.bases[0][0].layer,
        "tol": tol,
        "max_memory": max_memory,
        "products": int(evolution.products.sum()),
        "bases": int(evolution.products.size),
        "converged": int(sum(sum(row) for row in numbers["converged"])),
        "neighbour_distances": [float(first[j, j + 1]) for j in range(len(evolution.ts) - 1)],
        "homogeneity": numbers["homogeneity"],
        "mean_frequency": numbers["mean_frequency"],
        "seconds": time.perf_counter() - t0,
    }
    protect = [spec for spec in image or [] if not is_builtin_spec(spec)] + ([images] if images else [])
    with staged_output(out, protect=protect, force=force) as stage:
        save_figure(evolution_figure(evolution, names), stage / "evolution.png")
        save_figure(spectra_figure(evolution), stage / "spectra.png")
        (stage / "evolution.json").write_text(json.dumps(numbers, indent=1))
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@app.command("evolution")
@model_flags()
def evolution_command(
    choice: ModelChoice = MODEL_FLAGS,
    image: Optional[list[str]] = typer.Option(
        None, "--image", help="An image: builtin:N, world:N or a file; repeatable (the bases of several images)."
    ),
    images: Optional[str] = typer.Option(
        None, "--images", help=f"Instead of --image: a folder of images (or a .npy of (n, h, w)), at most {MAX_IMAGES}."
    ),
    t: str = typer.Option(
        ",".join(f"{v:g}" for v in DEFAULT_TS),
        "--t",
        help=f"The t's, a list in (0, 1] (2 to {MAX_TS}); computed from the largest down.",
    ),
    k: int = typer.Option(DEFAULT_EVOLUTION_K, "--k", "-k", help=f"Directions per basis (at most {MAX_K})."),
    steps: int = STEPS,
    cold: bool = typer.Option(
        False,
        "--cold",
        help="Start every basis from scratch (default: warm-start each from the basis at the t before).",
    ),
    tol: float = TOL,
    max_memory: str = MAX_MEMORY,
    out: str = out_option(
        "out/evolution", help="Folder for evolution.png, spectra.png, evolution.json and summary.json."
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """How the local basis of x_t ↦ h moves over t, its frequency content, and how alike it is across images.

    Each image is inverted to each t and its local basis taken there, each warm-started from the
    basis at the t before (Park et al. 2023, §5).

    Examples:

        svdlens evolution --image world:3 -k 5 --out out/evolution

        svdlens evolution --image world:3 --image world:5 --t 0.9,0.7,0.5,0.3,0.1 --out out/evolution2

        svdlens evolution --images faces/ --cold --out out/evolution-cold
    """
    with handled():
        refuse_unused(
            ("--guidance", choice.guidance, True, "has no effect here: the images are inverted without guidance")
        )
        check_guidance_used(choice, sampling=False, denoising=False, without="the images are inverted without it")
        ts = parse_ts(t)
        k = check_int("-k", k, high=MAX_K)
        steps = check_int("--steps", steps, high=MAX_STEPS)
        basis = check_basis_options(tol, max_memory)
        _check_sources(image, images)
        pipe = pipeline(choice)
        with progress_bar(quiet or as_json, "local bases over t") as bar:
            summary = run_evolution(
                pipe,
                out,
                image=image,
                images=images,
                ts=ts,
                k=k,
                steps=steps,
                warm=not cold,
                choice=choice,
                **basis,
                force=force,
                progress=bar,
            )
    distances = ", ".join(f"{d:.2f}" for d in summary["neighbour_distances"])
    frequencies = ", ".join(f"{f:.3f}" for f in summary["mean_frequency"])
    text = [
        f"{summary['bases']} bases over t = {', '.join(f'{v:g}' for v in summary['ts'])}; "
        f"{summary['products']} Jacobian products ({'warm' if summary['warm'] else 'cold'} starts)",
        f"Grassmann distance between neighbouring t's: {distances}",
        f"mean radial frequency (cycles/pixel): {frequencies}",
        *(
            [f"homogeneity across images: {', '.join(f'{h:.2f}' for h in summary['homogeneity'])}"]
            if summary["n_images"] >= 2
            else []
        ),
        f"{summary['seconds']:.1f} s; wrote {out}/",
    ]
    emit(summary, as_json=as_json, text=text)

"""``svdlens sample``: new images from noise, with the model's own DDIM (and a prompt, for Stable Diffusion)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import typer

from .._atomic import staged_output
from .._defaults import MAX_STEPS
from .._plotting import save_figure
from .._progress import Progress
from .._validation import check_float, check_int
from ..diffusion import Pipeline
from ..diffusion._figures import image_grid
from ..diffusion._hspace import LOCAL_BASIS_DEFAULTS
from ..nets._jacobian import parse_memory
from ._diffusion import MAX_MEMORY, MODEL_FLAGS, STEPS, ModelChoice, check_guidance_used, model_flags, pipeline
from ._main import FORCE, JSON, QUIET, app, emit, handled, out_option, progress_bar

__all__ = ["sample_command", "run_sample", "MAX_SAMPLES"]

MAX_SAMPLES = 64


def run_sample(
    pipe: Pipeline,
    out: str | Path,
    *,
    n: int,
    seed: int,
    steps: int,
    choice: ModelChoice,
    max_memory: str = LOCAL_BASIS_DEFAULTS["max_memory"],
    force: bool = False,
    progress: Progress = None,
    eta: float = 0.0,
) -> dict:
    """Sample ``n`` images and write them as a grid (PNG), an array (.npy) and a summary.

    Parameters
    ----------
    pipe : Pipeline
        The diffusion model.
    out : str or pathlib.Path
        The output folder: ``samples.png``, ``samples.npy`` (``(n, h, w)`` or ``(n, c, h, w)``
        in [0, 1]) and ``summary.json``.
    n : int
        How many images.
    seed : int
        Seed of the starting noise.
    steps : int
        DDIM steps from t = 1 to 0.
    choice : ModelChoice
        The prompt, negative prompt and guidance of the command line.
    max_memory : str
        The working-memory budget of each batch of samples (``"4GB"``, say).
    force : bool
        Replace files in ``out`` that svdlens did not write.
    progress : callable, optional
        ``progress(done, total, label)`` after each DDIM step.
    eta : float
        0 for deterministic DDIM; up to 1 (DDPM's ancestral sampler) for stochastic steps.

    Returns
    -------
    dict
        The summary written to ``summary.json``: model, n, seed, steps, eta, prompt, negative
        prompt, guidance, max_memory, image shape and seconds.
    """
    t0 = time.perf_counter()
    images = pipe.sample(
        n,
        seed,
        steps,
        guidance_scale=choice.guidance,
        progress=progress,
        max_memory=max_memory,
        eta=eta,
        **choice.text,
    )
    cols = min(n, 8)
    rows = math.ceil(n / cols)
    padded = np.concatenate([images, np.ones((rows * cols - n, *images.shape[1:]), images.dtype)])
    grid = padded.reshape(rows, cols, *images.shape[1:])
    title = f"“{choice.prompt}”" if choice.prompt else "samples"
    summary = {
        "model": choice.model,
        "n": n,
        "seed": seed,
        "steps": steps,
        "eta": eta,
        "prompt": choice.prompt,
        "negative_prompt": choice.negative_prompt,
        "guidance": pipe._guidance(choice.guidance),
        "max_memory": max_memory,
        "shape": list(images.shape),
        "seconds": time.perf_counter() - t0,
    }
    with staged_output(out, force=force) as stage:
        save_figure(image_grid(grid, [""] * rows, [""] * cols, title), stage / "samples.png")
        np.save(stage / "samples.npy", images)
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@app.command("sample")
@model_flags(layer=False)
def sample_command(
    choice: ModelChoice = MODEL_FLAGS,
    n: int = typer.Option(8, "--n", "-n", help=f"How many images (at most {MAX_SAMPLES})."),
    seed: int = typer.Option(
        0,
        "--seed",
        help="Seed of the starting noise; the same seed gives the same images (with --eta above 0, for the same --n).",
    ),
    steps: int = STEPS,
    eta: float = typer.Option(
        0.0,
        "--eta",
        help="0: deterministic DDIM. Up to 1 (DDPM's ancestral sampler): fresh noise at each step, from --seed; "
        "on the built-in model 1 leaves little of the residual grain that 0 leaves.",
    ),
    max_memory: str = MAX_MEMORY,
    out: str = out_option("out/sample", help="Folder for samples.png, samples.npy and summary.json."),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """New images from noise with the model's own DDIM scheduler, as diffusers' pipelines make them.

    Examples:

        svdlens sample --n 16 --seed 0 --out out/sample

        svdlens sample --n 16 --eta 1 --steps 100

        svdlens sample --model google/ddpm-celebahq-256 --n 4 --steps 50

        svdlens sample --model ./stable-diffusion-v1-5 --prompt "a photo of an astronaut" --guidance 7.5 --device cuda --dtype float16
    """
    with handled():
        n = check_int("--n", n, high=MAX_SAMPLES)
        seed = check_int("--seed", seed, low=0)
        steps = check_int("--steps", steps, high=MAX_STEPS)
        eta = check_float("--eta", eta, low=0, high=1)
        parse_memory("--max-memory", max_memory)
        check_guidance_used(choice, sampling=True, denoising=False, without="")
        pipe = pipeline(choice)
        with progress_bar(quiet or as_json, "DDIM sampling") as bar:
            summary = run_sample(
                pipe,
                out,
                n=n,
                seed=seed,
                steps=steps,
                choice=choice,
                max_memory=max_memory,
                force=force,
                progress=bar,
                eta=eta,
            )
    emit(summary, as_json=as_json, text=[f"{n} images in {summary['seconds']:.1f} s; wrote {out}/samples.png"])

"""What the diffusion commands share: the model, the starting image, strengths, and the grid they write."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import typer

from .._defaults import DEFAULT_STEPS, DEFAULT_T, MAX_STEPS, MAX_STRENGTHS
from .._validation import check_fraction, check_int
from ..diffusion import FacePipeline, load
from ..exceptions import InvalidParameterError

__all__ = ["MODEL", "T", "STEPS", "pipeline", "read_start_image", "parse_strengths", "start", "check_t_steps"]

MODEL = typer.Option("builtin", "--model", help="builtin, a diffusers UNet2DModel folder, or a hub id.")
T = typer.Option(DEFAULT_T, "--t", help="How far into the diffusion, in (0, 1].")
STEPS = typer.Option(DEFAULT_STEPS, "--steps", help=f"DDIM steps (at most {MAX_STEPS}).")


def pipeline(model: str) -> FacePipeline:
    """The diffusion model named on the command line."""
    return load(model)


def check_t_steps(t: float, steps: int) -> tuple[float, int]:
    """``--t`` and ``--steps``, checked before any model work."""
    return check_fraction("--t", t), check_int("--steps", steps, high=MAX_STEPS)


def read_start_image(spec: str) -> np.ndarray:
    """``builtin:N`` (the N-th built-in face) or an image file → (h, w) or (c, h, w) in [0, 1]."""
    from ..faces import builtin, read_image

    if spec.startswith("builtin:"):
        faces = builtin("faces")
        text = spec.split(":", 1)[1]
        if not text.isdigit() or int(text) >= len(faces):
            raise InvalidParameterError(f"{spec!r}: use builtin:0 to builtin:{len(faces) - 1}")
        return faces[int(text)]
    return read_image(spec, color=True)


def parse_strengths(text: str) -> list[float]:
    """``"-3:3:7"`` (start:stop:count) or ``"-2,0,2"`` → finite strengths, at most MAX_STRENGTHS of them."""
    try:
        if ":" in text:
            a, b, n = text.split(":")
            ends, count = [float(a), float(b)], int(n)
        else:
            values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InvalidParameterError(
            f"--strength must look like -3:3:7 (start:stop:count) or -2,0,2; got {text!r}"
        ) from None
    if ":" in text:
        if not 1 <= count <= MAX_STRENGTHS:
            raise InvalidParameterError(f"--strength asks for {count} strengths; give 1 to {MAX_STRENGTHS}")
        if not all(math.isfinite(v) for v in ends):
            raise InvalidParameterError(f"--strength must be finite numbers; got {text!r}")
        return [float(v) for v in np.linspace(ends[0], ends[1], count)]
    if len(values) > MAX_STRENGTHS:
        raise InvalidParameterError(f"--strength lists {len(values)} strengths; give at most {MAX_STRENGTHS}")
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameterError(f"--strength must be finite numbers; got {text!r}")
    return values


def start(pipe: FacePipeline, image: str | None, seed: int | None, t: float, steps: int):
    """The starting image and its x_t: an image inverted by DDIM, or a generated sample stopped at t."""
    if (image is None) == (seed is None):
        raise InvalidParameterError("give --image FILE (or builtin:N) or --seed N")
    if seed is None:
        img = read_start_image(str(image))
        return img, pipe.invert(img[None], t, steps)
    xt = pipe.noisy_sample(seed, t, steps)
    return pipe.generate(xt, t, steps)[0], xt


def label(spec: str) -> str:
    """A short row label for an image spec."""
    return spec if spec.startswith("builtin:") else Path(spec).name

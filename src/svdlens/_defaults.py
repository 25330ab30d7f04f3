"""Defaults that mean the same thing everywhere: the library, the command line, the demo and the app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "max_pixels",
    "pixel_limit",
    "DEFAULT_T",
    "DEFAULT_STEPS",
    "DEFAULT_K",
    "DEFAULT_OUTSIDE_WEIGHT",
    "DEFAULT_GUIDANCE",
    "INVERSION_REFINE",
    "MAX_GUIDANCE",
    "MAX_PIXELS",
    "MAX_STRENGTHS",
    "MAX_X_GUIDANCE",
    "MAX_STEPS",
    "MAX_K",
    "MAX_EXPLAIN_SIZE",
    "MAX_EXPLAIN_ENTRY",
    "MAX_TRAIN_TIMESTEPS",
    "MAX_SAMPLE_SIZE",
    "MAX_MODEL_PARAMETERS",
    "MAX_CONFIG_BYTES",
    "MAX_JSON_DEPTH",
]

DEFAULT_T = 0.6
"""Where edits happen, as a fraction of the diffusion (Park et al. 2023 edit at about t = 0.6)."""

DEFAULT_STEPS = 50
"""DDIM steps for inversion and sampling."""

DEFAULT_K = 10
"""Size of a local basis (singular triplets of the Jacobian)."""

DEFAULT_OUTSIDE_WEIGHT = 4.0
"""μ of local edits by ``method="contrast"``: the price of a unit of change outside the mask against one inside."""

DEFAULT_GUIDANCE = 7.5
"""Classifier-free guidance of sampling with a text model (diffusers' default)."""

INVERSION_REFINE = 1
"""Fixed-point refinement iterations per DDIM inversion step (measured: the built-in faces' round trip at
t = 1, 50 steps goes from 23.0 dB PSNR without to 47.6 dB with one, 51.0 with two; bench/inversion.py)."""

MAX_GUIDANCE = 100.0
"""The largest classifier-free guidance scale taken."""

MAX_PIXELS = 4096 * 4096
"""The largest image read (width × height), checked from the header before decoding, unless raised by :func:`pixel_limit`."""

_PIXEL_LIMIT: ContextVar[int] = ContextVar("svdlens_max_pixels", default=MAX_PIXELS)


def max_pixels() -> int:
    """The image-size cap in force: :data:`MAX_PIXELS`, or what the innermost :func:`pixel_limit` set."""
    return _PIXEL_LIMIT.get()


@contextmanager
def pixel_limit(pixels: int) -> Iterator[None]:
    """Read images up to ``pixels`` (width × height) inside the block, in this thread or task only.

    The command line's ``--max-pixels`` opens one for the whole command; nothing global changes.
    """
    token = _PIXEL_LIMIT.set(pixels)
    try:
        yield
    finally:
        _PIXEL_LIMIT.reset(token)


MAX_STRENGTHS = 64
"""The most strengths in one edit grid."""

MAX_STEPS = 1000
"""The most DDIM steps (a 1000-step schedule has no more)."""

MAX_K = 512
"""The most singular triplets asked of a Jacobian."""

MAX_EXPLAIN_SIZE = 32
"""The most rows or columns ``explain`` tells a story for (every scene prints its matrices)."""

MAX_EXPLAIN_ENTRY = 1e100
"""The largest entry ``explain`` takes: AᵀA squares the entries, and 1e300² overflows."""

MAX_TRAIN_TIMESTEPS = 10_000
"""The longest diffusion schedule a model's scheduler config may declare (1000 is usual)."""

MAX_SAMPLE_SIZE = 4096
"""The largest image side a model may declare: a pixel U-Net's ``sample_size``, a latent one's times the VAE's factor."""

MAX_MODEL_PARAMETERS = 4_000_000_000
"""The most parameters one model component may have (16 GB in float32; the SD 1.5 U-Net has 0.86 billion)."""

MAX_CONFIG_BYTES = 64 * 2**20
"""The largest config or tokenizer file (JSON or text) read from a model folder."""

MAX_JSON_DEPTH = 32
"""The deepest nesting of lists and objects taken in a model folder's JSON files (real ones nest about 6 deep)."""

MAX_X_GUIDANCE = 100
"""The most x-space guidance steps of one edit (each is two U-Net passes, or a local basis with ``follow``)."""

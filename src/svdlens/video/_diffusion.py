"""The built-in diffusion model, as the diffusion scenes use it: one load, one DDIM step helper.

Only :func:`ddim_step` touches the pipeline's private one-step method, so that a change there
is made in one place.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from contextlib import contextmanager

import svdlens as sl

from ..exceptions import InputNote


@functools.lru_cache(maxsize=1)
def builtin_pipeline():
    """The built-in face DDPM (``sl.diffusion.load("builtin")``), loaded once per process."""
    return sl.diffusion.load("builtin")


def library_default(method, name: str):
    """The default the library gives parameter ``name`` of ``method`` (t, steps), so that the
    video's defaults are the library's, defined once there."""
    return inspect.signature(method).parameters[name].default


def ddim_step(pipe, x, t_from: int, t_to: int):
    """One deterministic DDIM step of ``pipe`` from timestep ``t_from`` to ``t_to``.

    Song, Meng & Ermon (2021), "Denoising Diffusion Implicit Models", eq. 12 with η = 0: the
    x₀ estimate from the model's noise prediction, re-noised to ``t_to``. This is the one place
    that calls the pipeline's private ``_step``.
    """
    return pipe._step(x, t_from, t_to)


@contextmanager
def resize_notes_silenced():
    """Silence the note that the 25×25 built-in faces are resized to the model's size: the video
    shows the faces the model sees, and a note per call would only be noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputNote)
        yield

"""The built-in diffusion model, as the diffusion scenes use it: loaded once, with the library's defaults."""

from __future__ import annotations

import inspect
import warnings
from contextlib import contextmanager

import svdlens as sl

from ..exceptions import InputNote


def builtin_pipeline():
    """The built-in face DDPM (``sl.diffusion.load_cached("builtin")``), loaded once per process."""
    return sl.diffusion.load_cached("builtin")


def library_default(method, name: str):
    """The default the library gives parameter ``name`` of ``method`` (t, steps), so that the
    video's defaults are the library's, defined once there."""
    return inspect.signature(method).parameters[name].default


@contextmanager
def resize_notes_silenced():
    """Silence the note that the 25×25 built-in faces are resized to the model's size: the video
    shows the faces the model sees, and a note per call would only be noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputNote)
        yield

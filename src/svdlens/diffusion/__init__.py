"""Faces out of a diffusion model: the built-in DDPM, DDIM inversion and sampling, h-space edits."""

from .pipeline import FacePipeline, InputNote, ModelLoadError, load

__all__ = ["load", "FacePipeline", "ModelLoadError", "InputNote"]

"""Faces out of a diffusion model: the built-in DDPM, DDIM inversion and sampling, h-space edits."""

from ._builtin import BUILTIN_DIR
from ._pipeline import FacePipeline, load
from ._train import train_faces

__all__ = ["load", "FacePipeline", "train_faces", "BUILTIN_DIR"]

"""Diffusion models for the method: the built-in DDPM, diffusers pipelines (pixel DDPMs, Stable Diffusion), DDIM both ways, h-space edits."""

from ._builtin import BUILTIN_DIR
from ._global import GlobalDirections, ImageBasis, global_directions
from ._load import DTYPES, SUPPORTED_PIPELINES, load
from ._pipeline import Conditioning, FacePipeline, Pipeline, PromptComparison, check_scheduler
from ._train import train_faces

__all__ = [
    "load",
    "Pipeline",
    "FacePipeline",
    "Conditioning",
    "PromptComparison",
    "check_scheduler",
    "SUPPORTED_PIPELINES",
    "DTYPES",
    "train_faces",
    "BUILTIN_DIR",
    "global_directions",
    "ImageBasis",
    "GlobalDirections",
]

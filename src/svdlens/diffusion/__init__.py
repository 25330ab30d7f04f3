"""Diffusion models for the method: the built-in DDPM, diffusers pipelines (pixel DDPMs, Stable Diffusion), DDIM both ways, h-space edits."""

from ._builtin import BUILTIN_DIR, start_face
from ._cached import load_cached
from ._compare import ModelComparison, compare_models
from ._evolution import BasisEvolution
from ._global import GlobalDirections, ImageBasis, global_directions
from ._hspace import GuidancePath, PromptComparison, StartPoint
from ._load import DTYPES, SUPPORTED_PIPELINES, load
from ._local import Contrast, Linearity, LocalDirections, RankProfile, X0Map
from ._pipeline import FacePipeline, Pipeline
from ._schedule import check_scheduler
from ._semantics import FactorEffects
from ._text import Conditioning
from ._train import train_faces, train_like

__all__ = [
    "load",
    "load_cached",
    "Pipeline",
    "FacePipeline",
    "Conditioning",
    "PromptComparison",
    "GuidancePath",
    "StartPoint",
    "check_scheduler",
    "SUPPORTED_PIPELINES",
    "DTYPES",
    "train_faces",
    "train_like",
    "BUILTIN_DIR",
    "start_face",
    "global_directions",
    "ImageBasis",
    "GlobalDirections",
    "BasisEvolution",
    "compare_models",
    "ModelComparison",
    "LocalDirections",
    "Contrast",
    "RankProfile",
    "Linearity",
    "X0Map",
    "FactorEffects",
]

"""The interactive explorer (Gradio): Explain, Eigenfaces and Directions tabs. Needs ``svdlens[app]``."""

from ._explorer import build_app, launch
from ._handlers import AppInputError, Explorer

__all__ = ["build_app", "launch", "Explorer", "AppInputError"]

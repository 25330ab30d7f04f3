"""Eigenfaces: PCA of face images — data, the estimator, its uses and its figures."""

from .data import LoadReport, SkippedFilesWarning, builtin, load
from .estimator import Eigenfaces, NotFittedError

__all__ = ["builtin", "load", "LoadReport", "SkippedFilesWarning", "Eigenfaces", "NotFittedError"]

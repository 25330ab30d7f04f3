"""Eigenfaces: PCA of face images — data, the estimator, its uses and its figures."""

from ._data import LoadReport, builtin, load, read_image
from ._estimator import Eigenfaces
from ._oracle import FactorOracle, train_oracle
from ._outofcore import fit_out_of_core, lazy_images
from ._uses import (
    CompressionCurve,
    Detection,
    Match,
    Puzzle,
    compression_curve,
    detect_faces,
    interpolate,
    nearest_face,
    roc_auc,
    sample_faces,
    solve_puzzle,
)

__all__ = [
    "builtin",
    "load",
    "read_image",
    "LoadReport",
    "Eigenfaces",
    "FactorOracle",
    "train_oracle",
    "fit_out_of_core",
    "lazy_images",
    "Puzzle",
    "solve_puzzle",
    "Match",
    "nearest_face",
    "interpolate",
    "sample_faces",
    "CompressionCurve",
    "compression_curve",
    "roc_auc",
    "Detection",
    "detect_faces",
]

"""What people do with eigenfaces: the puzzle, detection, recognition, interpolation, sampling, compression.

Each use returns a plain result (numpy arrays and numbers) that the figures draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import SvdlensError
from ._estimator import Eigenfaces

__all__ = [
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
    "RECONSTRUCTION_KS",
]

RECONSTRUCTION_KS = (1, 2, 5, 10, 20, 50)


@dataclass
class Puzzle:
    """A face as the mean face plus a weighted sum of eigenfaces: the coefficients are the solution."""

    face: np.ndarray  # (h, w), in the model's normalised space
    coefficients: np.ndarray  # (k,)
    steps: np.ndarray  # (k, h, w): the rebuilt face after 1, 2, ..., k pieces
    errors: np.ndarray  # (k,): relative error ‖face − step‖ / ‖face − mean‖

    @property
    def reconstruction(self) -> np.ndarray:
        return self.steps[-1]

    def text(self) -> str:
        top = np.argsort(-np.abs(self.coefficients))[:5]
        parts = ", ".join(f"eigenface {i + 1}: {self.coefficients[i]:+.2f}" for i in top)
        return (
            f"face = mean face + Σ cᵢ·eigenfaceᵢ over {len(self.coefficients)} eigenfaces; the largest "
            f"pieces are {parts}; what is left: {self.errors[-1]:.1%} of the face's own variation"
        )


def solve_puzzle(ef: Eigenfaces, face: np.ndarray, k: int | None = None) -> Puzzle:
    """Find the coefficients of one face on the first ``k`` eigenfaces, and rebuild it piece by piece."""
    C = ef.transform(face[None] if face.ndim == 2 else face, k)[0]
    ef_nowhite = C * np.sqrt(ef.explained_variance_[: len(C)]) if ef.whiten else C
    target = ef._normalized(ef._flatten(face[None] if face.ndim == 2 else face, fitting=False))[0]
    partial = np.cumsum(ef_nowhite[:, None] * ef.components_[: len(C)], axis=0) + ef.mean_
    base = np.linalg.norm(target - ef.mean_)
    errors = np.linalg.norm(partial - target, axis=1) / (base if base > 0 else 1.0)
    shape = ef.image_shape_
    return Puzzle(target.reshape(shape), C, partial.reshape((len(C),) + shape), errors)


@dataclass
class Match:
    """Nearest gallery face for each probe, in face space; -1 where farther than the threshold."""

    index: np.ndarray  # (n,), -1 for "unknown"
    distance: np.ndarray  # (n,)
    threshold: float | None


def nearest_face(ef: Eigenfaces, probes, gallery, threshold: float | None = None, k: int | None = None) -> Match:
    """Recognition: the gallery face whose coefficients are closest to each probe's (Turk & Pentland §2.3).

    A probe farther than ``threshold`` from every gallery face is "unknown" (index -1).
    """
    from scipy.spatial.distance import cdist

    P = ef.transform(probes, k)
    G = ef.transform(gallery, k)
    D = cdist(P, G)  # differences taken directly: no cancellation for near matches
    idx = np.argmin(D, axis=1)
    dist = D[np.arange(len(P)), idx]
    if threshold is not None:
        idx = np.where(dist <= threshold, idx, -1)
    return Match(idx, dist, threshold)


def interpolate(ef: Eigenfaces, a: np.ndarray, b: np.ndarray, n: int = 8, k: int | None = None) -> np.ndarray:
    """The "faded face": ``n`` images on the straight line between two faces' coefficients."""
    if n < 2:
        raise SvdlensError(f"n must be at least 2 (the two ends); got {n}")
    ca, cb = ef.transform(np.stack([a, b]), k)
    t = np.linspace(0.0, 1.0, n)[:, None]
    return ef.inverse_transform((1 - t) * ca + t * cb)


def sample_faces(ef: Eigenfaces, n: int = 16, seed: int = 0, k: int | None = None) -> np.ndarray:
    """New faces drawn from the model's Gaussian: coefficients ~ N(0, Λ) on the first ``k`` eigenfaces."""
    k = ef._k(k)
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((n, k))
    if not ef.whiten:
        C = C * np.sqrt(ef.explained_variance_[:k])
    return ef.inverse_transform(C)


@dataclass
class CompressionCurve:
    """Reconstruction error against compression ratio, one point per k."""

    ks: np.ndarray
    ratio: np.ndarray  # numbers stored uncompressed / numbers stored with k eigenfaces
    error: np.ndarray  # relative Frobenius error ‖X − X̂_k‖ / ‖X − mean‖


def compression_curve(ef: Eigenfaces, X, ks=None) -> CompressionCurve:
    """Store k coefficients per image plus k eigenfaces and the mean, instead of every pixel."""
    flat = ef._normalized(ef._flatten(X, fitting=False)) - ef.mean_
    n, d = flat.shape
    ks = np.arange(1, ef.n_components_ + 1) if ks is None else np.asarray(ks)
    C = flat @ ef.components_.T
    base = np.linalg.norm(flat)
    errors, ratios = [], []
    for k in ks:
        rest = flat - C[:, :k] @ ef.components_[:k]
        errors.append(np.linalg.norm(rest) / base)
        ratios.append(n * d / (n * k + k * d + d))
    return CompressionCurve(np.asarray(ks), np.asarray(ratios), np.asarray(errors))


def roc_auc(positive_scores, negative_scores) -> float:
    """Probability that a negative scores higher than a positive (ties count half): the Mann–Whitney AUC."""
    from scipy.stats import rankdata

    pos, neg = np.asarray(positive_scores, float), np.asarray(negative_scores, float)
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[len(pos) :].sum() - len(neg) * (len(neg) + 1) / 2) / (len(pos) * len(neg)))


@dataclass
class Detection:
    """Distances from face space for faces and non-faces, their AUC, and a threshold."""

    faces: np.ndarray
    nonfaces: np.ndarray
    auc: float
    threshold: float  # the 95th percentile of the faces' distances
    nonfaces_inside: float  # share of non-faces under the threshold


def detect_faces(ef: Eigenfaces, faces, nonfaces, k: int | None = None) -> Detection:
    """Face against non-face by distance from face space."""
    df = ef.distance_from_face_space(faces, k)
    dn = ef.distance_from_face_space(nonfaces, k)
    thr = float(np.percentile(df, 95))
    return Detection(df, dn, roc_auc(df, dn), thr, float((dn <= thr).mean()))

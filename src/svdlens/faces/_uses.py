"""What people do with eigenfaces: the puzzle, detection, recognition, interpolation, sampling, compression.

Each use returns a plain result (numpy arrays and numbers) that the figures draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

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
    """A face as the mean face plus a weighted sum of eigenfaces: the coefficients are the solution.

    Made by :func:`solve_puzzle`.

    Attributes
    ----------
    face : numpy.ndarray
        ``(h, w)`` the face, in the model's normalised space.
    coefficients : numpy.ndarray
        ``(k,)`` its coefficients on the first ``k`` eigenfaces.
    steps : numpy.ndarray
        ``(k, h, w)`` the rebuilt face after 1, 2, ..., k pieces.
    errors : numpy.ndarray
        ``(k,)`` relative error ``‖face − step‖ / ‖face − mean‖`` after each piece.
    """

    face: np.ndarray
    coefficients: np.ndarray
    steps: np.ndarray
    errors: np.ndarray

    @property
    def reconstruction(self) -> np.ndarray:
        """``(h, w)`` the face rebuilt from all ``k`` pieces."""
        return self.steps[-1]

    def text(self) -> str:
        """The solution in words: the five largest pieces and what is left.

        Returns
        -------
        str
            One sentence.
        """
        top = np.argsort(-np.abs(self.coefficients))[:5]
        parts = ", ".join(f"eigenface {i + 1}: {self.coefficients[i]:+.2f}" for i in top)
        return (
            f"face = mean face + Σ cᵢ·eigenfaceᵢ over {len(self.coefficients)} eigenfaces; the largest "
            f"pieces are {parts}; what is left: {self.errors[-1]:.1%} of the face's own variation"
        )


def solve_puzzle(ef: Eigenfaces, face: np.ndarray, k: int | None = None) -> Puzzle:
    """Find the coefficients of one face on the first ``k`` eigenfaces, and rebuild it piece by piece.

    Parameters
    ----------
    ef : Eigenfaces
        A fitted model.
    face : numpy.ndarray
        One image ``(h, w)`` of the fitted shape (or one flat row ``(1, d)``).
    k : int, optional
        How many eigenfaces (pieces); default: all of the model's.

    Returns
    -------
    Puzzle
        The coefficients, the face rebuilt after each piece, and the error left.

    Examples
    --------
    >>> import svdlens as sl
    >>> from svdlens.faces import solve_puzzle
    >>> X = sl.faces.builtin()
    >>> puzzle = solve_puzzle(sl.Eigenfaces(n_components=10).fit(X), X[0], k=5)
    >>> puzzle.coefficients.shape, puzzle.steps.shape
    ((5,), (5, 25, 25))
    >>> bool(puzzle.errors[-1] < puzzle.errors[0])
    True
    """
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
    """Nearest gallery face for each probe, in face space; -1 where farther than the threshold.

    Made by :func:`nearest_face`.

    Attributes
    ----------
    index : numpy.ndarray
        ``(n,)`` the gallery index of each probe's nearest face, -1 for "unknown".
    distance : numpy.ndarray
        ``(n,)`` the distance to that face, in coefficient space.
    threshold : float or None
        The threshold used, if any.
    """

    index: np.ndarray
    distance: np.ndarray
    threshold: float | None


def nearest_face(
    ef: Eigenfaces, probes: ArrayLike, gallery: ArrayLike, threshold: float | None = None, k: int | None = None
) -> Match:
    """Recognition: the gallery face whose coefficients are closest to each probe's (Turk & Pentland §2.3).

    Parameters
    ----------
    ef : Eigenfaces
        A fitted model.
    probes : array_like
        ``(n, h, w)`` the faces to recognise.
    gallery : array_like
        ``(g, h, w)`` the known faces.
    threshold : float, optional
        A probe farther than this from every gallery face is "unknown" (index -1).
    k : int, optional
        How many eigenfaces span the coefficient space (default: all of the model's).

    Returns
    -------
    Match
        Each probe's nearest gallery index and its distance.

    Examples
    --------
    >>> import svdlens as sl
    >>> from svdlens.faces import nearest_face
    >>> X = sl.faces.builtin()
    >>> nearest_face(sl.Eigenfaces(n_components=10).fit(X), X[:3], X).index.tolist()
    [0, 1, 2]
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
    """The "faded face": ``n`` images on the straight line between two faces' coefficients.

    Parameters
    ----------
    ef : Eigenfaces
        A fitted model.
    a : numpy.ndarray
        ``(h, w)`` the first face.
    b : numpy.ndarray
        ``(h, w)`` the last face.
    n : int
        How many images, both ends included (at least 2).
    k : int, optional
        How many eigenfaces (default: all of the model's).

    Returns
    -------
    numpy.ndarray
        ``(n, h, w)`` images, in the model's normalised space.

    Raises
    ------
    SvdlensError
        ``n`` below 2.

    Examples
    --------
    >>> import svdlens as sl
    >>> from svdlens.faces import interpolate
    >>> X = sl.faces.builtin()
    >>> interpolate(sl.Eigenfaces(n_components=10).fit(X), X[0], X[1], n=5).shape
    (5, 25, 25)
    """
    if n < 2:
        raise SvdlensError(f"n must be at least 2 (the two ends); got {n}")
    ca, cb = ef.transform(np.stack([a, b]), k)
    t = np.linspace(0.0, 1.0, n)[:, None]
    return ef.inverse_transform((1 - t) * ca + t * cb)


def sample_faces(ef: Eigenfaces, n: int = 16, seed: int = 0, k: int | None = None) -> np.ndarray:
    """New faces drawn from the model's Gaussian: coefficients ~ N(0, Λ) on the first ``k`` eigenfaces.

    Parameters
    ----------
    ef : Eigenfaces
        A fitted model.
    n : int
        How many faces.
    seed : int
        Seed of the random coefficients.
    k : int, optional
        How many eigenfaces (default: all of the model's).

    Returns
    -------
    numpy.ndarray
        ``(n, h, w)`` faces, in the model's normalised space.

    Examples
    --------
    >>> import svdlens as sl
    >>> from svdlens.faces import sample_faces
    >>> sample_faces(sl.Eigenfaces(n_components=10).fit(sl.faces.builtin()), n=4, seed=0).shape
    (4, 25, 25)
    """
    k = ef._k(k)
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((n, k))
    if not ef.whiten:
        C = C * np.sqrt(ef.explained_variance_[:k])
    return ef.inverse_transform(C)


@dataclass
class CompressionCurve:
    """Reconstruction error against compression ratio, one point per k.

    Made by :func:`compression_curve`.

    Attributes
    ----------
    ks : numpy.ndarray
        The numbers of eigenfaces.
    ratio : numpy.ndarray
        Numbers stored uncompressed / numbers stored with k eigenfaces, per k.
    error : numpy.ndarray
        Relative Frobenius error ``‖X − X̂_k‖ / ‖X − mean‖``, per k.
    """

    ks: np.ndarray
    ratio: np.ndarray
    error: np.ndarray


def compression_curve(ef: Eigenfaces, X: ArrayLike, ks: ArrayLike | None = None) -> CompressionCurve:
    """Store k coefficients per image plus k eigenfaces and the mean, instead of every pixel.

    Parameters
    ----------
    ef : Eigenfaces
        A fitted model.
    X : array_like
        ``(n, h, w)`` the images to compress.
    ks : array_like of int, optional
        The numbers of eigenfaces to try (default: 1, 2, ..., ``ef.n_components_``).

    Returns
    -------
    CompressionCurve
        The compression ratio and the error left, per k.

    Examples
    --------
    >>> import numpy as np, svdlens as sl
    >>> from svdlens.faces import compression_curve
    >>> X = sl.faces.builtin()
    >>> curve = compression_curve(sl.Eigenfaces(n_components=10).fit(X), X, ks=[1, 5, 10])
    >>> np.round(curve.ratio, 1).tolist(), np.round(curve.error, 2).tolist()
    ([46.3, 14.7, 7.9], [0.91, 0.73, 0.64])
    """
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


def roc_auc(positive_scores: ArrayLike, negative_scores: ArrayLike) -> float:
    """Probability that a negative scores higher than a positive (ties count half): the Mann–Whitney AUC.

    Parameters
    ----------
    positive_scores : array_like
        Scores of the positives (for detection: the faces' distances from face space).
    negative_scores : array_like
        Scores of the negatives (the non-faces' distances), expected to be higher.

    Returns
    -------
    float
        The area under the ROC curve, in [0, 1].

    Examples
    --------
    >>> from svdlens.faces import roc_auc
    >>> roc_auc([0, 1], [2, 3]), round(roc_auc([1, 2, 3], [2.5, 4, 5]), 3)
    (1.0, 0.889)
    """
    from scipy.stats import rankdata

    pos, neg = np.asarray(positive_scores, float), np.asarray(negative_scores, float)
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[len(pos) :].sum() - len(neg) * (len(neg) + 1) / 2) / (len(pos) * len(neg)))


@dataclass
class Detection:
    """Distances from face space for faces and non-faces, their AUC, and a threshold.

    Made by :func:`detect_faces`.

    Attributes
    ----------
    faces : numpy.ndarray
        ``(n,)`` the faces' distances from face space.
    nonfaces : numpy.ndarray
        ``(m,)`` the non-faces' distances.
    auc : float
        The ROC AUC of the distances (:func:`roc_auc`).
    threshold : float
        The 95th percentile of the faces' distances.
    nonfaces_inside : float
        The share of non-faces under the threshold.
    """

    faces: np.ndarray
    nonfaces: np.ndarray
    auc: float
    threshold: float
    nonfaces_inside: float


def detect_faces(ef: Eigenfaces, faces: ArrayLike, nonfaces: ArrayLike, k: int | None = None) -> Detection:
    """Face against non-face by distance from face space.

    Parameters
    ----------
    ef : Eigenfaces
        A model fitted on faces (not those in ``faces``, for a fair test).
    faces : array_like
        ``(n, h, w)`` images of faces.
    nonfaces : array_like
        ``(m, h, w)`` images that are not faces.
    k : int, optional
        How many eigenfaces span face space (default: the first 5, see
        :meth:`~svdlens.Eigenfaces.distance_from_face_space`).

    Returns
    -------
    Detection
        Both sets of distances, their AUC, a threshold and the share of non-faces under it.

    Examples
    --------
    >>> import svdlens as sl
    >>> from svdlens.faces import detect_faces
    >>> X = sl.faces.builtin()
    >>> ef = sl.Eigenfaces(n_components=5).fit(X[:60])
    >>> round(detect_faces(ef, X[60:], sl.faces.builtin(kind="nonfaces")).auc, 2)
    0.95
    """
    df = ef.distance_from_face_space(faces, k)
    dn = ef.distance_from_face_space(nonfaces, k)
    thr = float(np.percentile(df, 95))
    return Detection(df, dn, roc_auc(df, dn), thr, float((dn <= thr).mean()))

"""Checks on what a scene is given, done before any work, with messages that say what to do.

The caps keep every video short and its memory bounded: the matrix scenes draw one 2×2
matrix whose largest entry is between :data:`MIN_ENTRY` and :data:`MAX_ENTRY` in size; the
image scenes draw at most :data:`MAX_PIECES` eigenfaces, :data:`MAX_STRENGTHS` edit strengths
and :data:`MAX_STEPS` DDIM steps.

Singular and ill-conditioned matrices are drawn, not refused: σ₂ = 0 is a picture of its own
(the unit circle collapses onto a line). :func:`matrix_svd` is the one SVD the matrix scenes
show; it reports a singular value at rounding-noise level (at most :data:`NOISE` times σ₁) as
exactly 0, so that every scene says "σ₂ = 0" for the same matrices.
"""

from __future__ import annotations

import numbers

import numpy as np

import svdlens as sl

from .._validation import check_int
from ..exceptions import InvalidParameterError, SvdlensError

DEFAULT_MATRIX = ((0.4, 0.2), (1.0, 3.0))
"""The script's matrix: its first row gives "0.4 · 2 + 0.2 · 1 = 1"."""

DEFAULT_VECTOR = (2.0, 1.0)
"""The script's input vector for the projection scene."""

MAX_ENTRY = 1e3
"""The largest absolute entry of a matrix scene's matrix (larger ones cannot be drawn legibly)."""

MIN_ENTRY = 1e-6
"""The largest absolute entry must be at least this (a smaller matrix is drawn as dots; scale it up)."""

NOISE = 10 * float(np.finfo(np.float64).eps)
"""σᵢ ≤ NOISE·σ₁ is rounding noise: the SVD of a singular matrix seldom gives an exact 0 (for
``[[1, 2], [2, 4]]`` it gives σ₂ ≈ 1e-16), so the matrix scenes show such a σᵢ as 0."""

MAX_PIECES = 20
"""The most eigenface coefficients the puzzle dials in, one by one."""

MAX_STRENGTHS = 9
"""The most edit strengths in the Jacobian-directions sweep."""

MAX_STEPS = 200
"""The most DDIM steps shown in the generated-image scene (one picture per step)."""


def check_matrix(matrix=None) -> np.ndarray:
    """The 2×2 float matrix of a matrix scene (default: the script's ``[[0.4, 0.2], [1, 3]]``).

    Raises
    ------
    SvdlensError
        The matrix is not 2×2, has NaN or Inf, an entry above :data:`MAX_ENTRY`, or is zero or
        so small (every entry below :data:`MIN_ENTRY`) that it would be drawn as dots. A singular
        or ill-conditioned matrix is accepted.
    """
    if matrix is None:
        matrix = DEFAULT_MATRIX
    if hasattr(matrix, "toarray"):  # scipy sparse
        matrix = matrix.toarray()
    if hasattr(matrix, "detach"):  # torch
        matrix = matrix.detach().cpu().numpy()
    try:
        A = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise SvdlensError(f"the matrix must be numbers in a 2×2 array; could not read {matrix!r} ({err})") from None
    if A.shape != (2, 2):
        raise SvdlensError(
            f"the video's matrix scenes draw a 2×2 matrix in the plane; got shape {A.shape}. "
            "For larger matrices use svdlens.explain, which draws 3-D and m×n cases"
        )
    if not np.isfinite(A).all():
        raise SvdlensError("the matrix contains NaN or Inf")
    largest = float(np.abs(A).max())
    if largest > MAX_ENTRY:
        raise SvdlensError(
            f"matrix entries must be at most {MAX_ENTRY:g} in size to be drawn; got {largest:g}. "
            "Divide the matrix by a power of ten: its singular vectors stay the same"
        )
    if largest == 0:
        raise SvdlensError(
            "the matrix is all zeros: it has no singular vectors to show; give a matrix with a nonzero entry"
        )
    if largest < MIN_ENTRY:
        raise SvdlensError(
            f"the matrix's largest entry is {largest:g}; it must be at least {MIN_ENTRY:g} to be drawn. "
            "Multiply the matrix by a power of ten: its singular vectors stay the same"
        )
    return A


def matrix_svd(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(U, S, Vt)`` of a checked 2×2 matrix from :func:`svdlens.svd`, as float arrays, with
    every singular value at most :data:`NOISE` times σ₁ set to exactly 0.

    ``U @ diag(S) @ Vt`` still equals ``A`` to within ``NOISE · σ₁``.

    >>> import numpy as np
    >>> U, S, Vt = matrix_svd(np.array([[1.0, 2.0], [2.0, 4.0]]))
    >>> S.round(12).tolist()
    [5.0, 0.0]
    """
    U, S, Vt = (np.array(m, dtype=np.float64) for m in sl.svd(A))
    S[S <= NOISE * S[0]] = 0.0
    return U, S, Vt


def check_vector(vector=None) -> np.ndarray:
    """The 2-vector of the projection scene (default: the script's ``[2, 1]``)."""
    x = np.array(DEFAULT_VECTOR if vector is None else vector, dtype=np.float64)
    if x.shape != (2,) or not np.isfinite(x).all() or np.abs(x).max() > MAX_ENTRY:
        raise SvdlensError(f"the input vector must be 2 finite numbers of size at most {MAX_ENTRY:g}; got {vector!r}")
    if not x.any():
        raise SvdlensError("the input vector is zero: it has no projection to show")
    return x


def check_count(name: str, value, low: int, high: int) -> int:
    """A whole number in ``[low, high]``, else :class:`InvalidParameterError` naming the range."""
    return check_int(name, value, low=low, high=high)


def check_fraction(name: str, value) -> float:
    """A number in (0, 1], such as the diffusion time t."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) <= 1:
        raise InvalidParameterError(f"{name} must be a number in (0, 1]; got {value!r}")
    return float(value)

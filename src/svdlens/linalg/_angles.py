"""Principal angles between two subspaces, each given by a set of directions."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.linalg import subspace_angles

from ..exceptions import InvalidParameterError

__all__ = ["principal_angles"]


def principal_angles(A: ArrayLike | torch.Tensor, B: ArrayLike | torch.Tensor) -> np.ndarray:
    """Principal angles (radians, ascending) between the row spaces of two sets of directions.

    Each row of ``A`` (and of ``B``) is one direction, of any shape after the first axis
    (``basis.v`` of shape ``(k, 1, 4, 64, 64)`` counts as k flattened rows). The angles are
    those of Björck & Golub (1973), "Numerical methods for computing angles between linear
    subspaces": the arccosines of the singular values of Q_Aᵀ Q_B, computed by
    :func:`scipy.linalg.subspace_angles` (which switches to the sine formula for small angles,
    so that they keep their digits). 0 means a shared direction, π/2 an orthogonal one.

    Parameters
    ----------
    A, B : array_like or torch.Tensor
        ``(k_A, ...)`` and ``(k_B, ...)`` directions of the same size; they need not be
        orthonormal, only independent.

    Returns
    -------
    numpy.ndarray
        ``(min(k_A, k_B),)`` angles in [0, π/2], smallest first.

    Raises
    ------
    InvalidParameterError
        Directions of different sizes, no directions, or NaN/Inf.

    Examples
    --------
    >>> import numpy as np, svdlens as sl
    >>> A = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> B = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> np.degrees(sl.principal_angles(A, B)).round(6).tolist()
    [0.0, 90.0]
    """
    a, b = _rows(A, "A"), _rows(B, "B")
    if a.shape[1] != b.shape[1]:
        raise InvalidParameterError(
            f"A and B must hold directions of the same size; got {a.shape[1]} and {b.shape[1]} numbers each"
        )
    return np.sort(subspace_angles(a.T, b.T))


def _rows(X: ArrayLike | torch.Tensor, name: str) -> np.ndarray:
    x = X.detach().cpu().double().numpy() if isinstance(X, torch.Tensor) else np.asarray(X, dtype=np.float64)
    if x.ndim < 1 or x.shape[0] == 0 or x.size == 0:
        raise InvalidParameterError(f"{name} must hold at least one direction; got shape {x.shape}")
    x = x.reshape(x.shape[0], -1) if x.ndim > 1 else x[None]
    if not np.isfinite(x).all():
        raise InvalidParameterError(f"{name} contains NaN or Inf")
    return x

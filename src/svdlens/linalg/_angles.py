"""Principal angles between two subspaces, each given by a set of directions, and the distances made of them."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.linalg import subspace_angles

from ..exceptions import InvalidParameterError

__all__ = ["principal_angles", "grassmann_distance", "projection_distance"]


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


def grassmann_distance(A: ArrayLike | torch.Tensor, B: ArrayLike | torch.Tensor) -> float:
    """Geodesic distance on the Grassmannian between the row spaces of two sets of directions.

    The 2-norm of the principal angles, ``‖θ‖₂`` (Edelman, Arias & Smith 1998, "The geometry
    of algorithms with orthogonality constraints"): the length of the shortest path from one
    subspace to the other when both have the same dimension. For subspaces of different
    dimensions it is the distance from the smaller one to the nearest subspace of its dimension
    inside the larger one (Ye & Lim 2016), so a subspace contained in another is at distance 0.
    It depends only on the subspaces, not on the directions chosen to span them.

    Parameters
    ----------
    A, B : array_like or torch.Tensor
        ``(k_A, ...)`` and ``(k_B, ...)`` directions of the same size (rows are vectors, of any
        shape after the first axis, as in :func:`principal_angles`); independent, not
        necessarily orthonormal.

    Returns
    -------
    float
        ``‖θ‖₂`` in radians, between 0 (the same subspace) and ``π/2·√min(k_A, k_B)``.

    Raises
    ------
    InvalidParameterError
        Directions of different sizes, no directions, or NaN/Inf.

    See Also
    --------
    principal_angles : the angles themselves.
    projection_distance : ``‖sin θ‖₂``, the distance between the orthogonal projectors.

    Examples
    --------
    >>> import numpy as np, svdlens as sl
    >>> A = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> B = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> round(sl.grassmann_distance(A, B), 6)  # angles 0 and π/2
    1.570796
    >>> sl.grassmann_distance(A, 2 * A[::-1])  # another basis of the same plane
    0.0
    """
    return float(np.linalg.norm(principal_angles(A, B)))


def projection_distance(A: ArrayLike | torch.Tensor, B: ArrayLike | torch.Tensor) -> float:
    """The projection distance between the row spaces of two sets of directions: ``‖sin θ‖₂``.

    For subspaces of the same dimension this is ``‖P_A − P_B‖_F / √2``, with ``P`` the
    orthogonal projector onto each (Edelman, Arias & Smith 1998); it is at most the geodesic
    :func:`grassmann_distance` and agrees with it to first order for small angles. For
    different dimensions it is ``‖sin θ‖₂`` over the ``min(k_A, k_B)`` principal angles.

    Parameters
    ----------
    A, B : array_like or torch.Tensor
        ``(k_A, ...)`` and ``(k_B, ...)`` directions of the same size (rows are vectors), as
        in :func:`principal_angles`.

    Returns
    -------
    float
        ``‖sin θ‖₂``, between 0 (the same subspace) and ``√min(k_A, k_B)``.

    Raises
    ------
    InvalidParameterError
        Directions of different sizes, no directions, or NaN/Inf.

    See Also
    --------
    grassmann_distance : the geodesic distance ``‖θ‖₂``.

    Examples
    --------
    >>> import numpy as np, svdlens as sl
    >>> A = np.array([[1.0, 0.0]])
    >>> B = np.array([[1.0, 1.0]])  # 45 degrees away
    >>> round(sl.projection_distance(A, B), 6), round(float(np.sin(np.pi / 4)), 6)
    (0.707107, 0.707107)
    """
    return float(np.linalg.norm(np.sin(principal_angles(A, B))))


def _rows(X: ArrayLike | torch.Tensor, name: str) -> np.ndarray:
    x = X.detach().cpu().double().numpy() if isinstance(X, torch.Tensor) else np.asarray(X, dtype=np.float64)
    if x.ndim < 1 or x.shape[0] == 0 or x.size == 0:
        raise InvalidParameterError(f"{name} must hold at least one direction; got shape {x.shape}")
    x = x.reshape(x.shape[0], -1) if x.ndim > 1 else x[None]
    if not np.isfinite(x).all():
        raise InvalidParameterError(f"{name} contains NaN or Inf")
    return x

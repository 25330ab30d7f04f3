"""``method="eig"``: the SVD from first principles, as the script tells it.

The right singular vectors are the eigenvectors of the "inputs with inputs" matrix AᵀA,
the singular values are the square roots of its eigenvalues, and the left singular vectors
follow from ``u = A v / σ``. For a wide matrix the roles swap: eigenvectors of AAᵀ give U and
``v = Aᵀ u / σ``. Forming the Gram matrix squares the condition number, so singular values
below ``eps^(1/4) · σ₁`` lose half their digits or more (all of them below ``√eps · σ₁``); the
method warns and says how many are left.
"""

from __future__ import annotations

import math
import warnings

import torch

from ..exceptions import PrecisionWarning, SvdlensError
from ._operator import Operator
from ._orth import orthonormalize
from ._result import NONFINITE

__all__ = ["svd_eig", "gram"]


def gram(A, op: Operator, side: str) -> torch.Tensor:
    """AᵀA (side="right", n×n) or AAᵀ (side="left", m×m), from the dense matrix or by products."""
    if isinstance(A, torch.Tensor):
        return A.mT @ A if side == "right" else A @ A.mT
    # Products with the identity, a block of columns at a time: (AᵀA) e_j = Aᵀ(A e_j).
    first, second = (op.matmat, op.rmatmat) if side == "right" else (op.rmatmat, op.matmat)
    size = op.shape[1] if side == "right" else op.shape[0]
    eye = torch.eye(size, dtype=op.torch_dtype, device=op.device)
    return torch.cat([second(first(eye[:, j : j + 256])) for j in range(0, size, 256)], dim=1)


def svd_eig(A, op: Operator, k: int | None, gen: torch.Generator):
    """Returns torch ``U (m,k), S (k,), V (n,k)`` from the eigendecomposition of the smaller Gram matrix."""
    m, n = op.shape
    side = "right" if m >= n else "left"
    G = gram(A, op, side)
    if not bool(torch.isfinite(G).all()):
        raise SvdlensError(NONFINITE)
    G = (G + G.mT) / 2  # symmetric up to rounding; eigh reads one triangle
    lam, W = torch.linalg.eigh(G)
    lam, W = lam.flip(0), W.flip(1)  # descending
    k = min(m, n) if k is None else k
    lam, W = lam[:k], W[:, :k]
    eps = torch.finfo(G.dtype).eps
    lam1 = torch.clamp(lam[0], min=0)
    # Eigenvalues of a Gram matrix are only known to about eps * size * λ₁: below that, σ = 0.
    zero = lam <= lam1 * eps * max(m, n)
    sigma = torch.sqrt(torch.clamp(lam, min=0))
    sigma = torch.where(zero, torch.zeros_like(sigma), sigma)
    _warn_precision(sigma, eps)

    # The other side from u = A v / σ (or v = Aᵀ u / σ), for the nonzero σ.
    other = op.matmat(W) if side == "right" else op.rmatmat(W)
    safe = torch.where(zero, torch.ones_like(sigma), sigma)
    other = other / safe
    if bool(zero.any()):
        # Rank deficient: complete the other side to an orthonormal basis.
        good = other[:, ~zero]
        fill = torch.zeros(other.shape[0], int(zero.sum()), dtype=other.dtype, device=other.device)
        Q, _, _ = orthonormalize(fill, good, gen)
        other = other.clone()
        other[:, zero] = Q
    if side == "right":
        return other, sigma, W
    return W, sigma, other


def _warn_precision(sigma: torch.Tensor, eps: float) -> None:
    s1 = float(sigma[0]) if sigma.numel() else 0.0
    if s1 == 0.0:
        return
    ratio = float(sigma[-1]) / s1
    # From σ_k/σ₁ < eps^(1/4) on, half the digits are gone; below √eps, all of them.
    if ratio < eps**0.25:
        # Relative error of σ_k from the Gram matrix is about eps · (σ₁/σ_k)².
        if ratio == 0:
            what = (
                "σ_k is below what the Gram matrix resolves and is returned as 0, with the basis "
                "completed. That is right for a rank-deficient A; otherwise"
            )
        else:
            digits = max(0, int(math.floor(-math.log10(eps / ratio**2))))
            what = (
                f"σ_k/σ₁ = {ratio:.1e}: forming the Gram matrix squares the condition number, so "
                f"σ_k keeps about {digits} correct digit(s) and its singular vectors fewer. For more,"
            )
        warnings.warn(
            f"method='eig': {what} use method='exact' or 'krylov'.",
            PrecisionWarning,
            stacklevel=5,  # the caller of svd()
        )

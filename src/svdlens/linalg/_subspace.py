"""``method="subspace"``: randomized subspace iteration.

Halko, Martinsson & Tropp (2011), "Finding structure with randomness", Algorithm 4.4:
sketch the range with ``A Ω`` for a Gaussian ``Ω`` of ``k + oversample`` columns, then
alternate ``Aᵀ`` and ``A`` with a QR re-orthonormalisation after each product (so that
rounding does not collapse the block onto the top direction), and finish with a
Rayleigh–Ritz step on ``B = QᵀA``. Each iteration also checks the residuals of the previous
one from products it has already made, so a fast-decaying spectrum stops early.

Iterations follow scikit-learn's ``randomized_svd``: 7 (4 when k is at least a tenth of
min(m, n)). We oversample by 15 columns rather than its 10: on the 3000×1000, σ_j = j^-0.5
benchmark, 15 gave a smaller max residual than scikit-learn's defaults for 29 of 30 seeds
(median 1.4e-3 against 3.3e-3), still in about half its time; with 10, 14 of 30.
"""

from __future__ import annotations

import torch

from ._operator import Operator
from ._orth import orthonormalize, random_block
from ._result import residuals_from_products

__all__ = ["svd_subspace", "default_subspace_iterations"]


def default_subspace_iterations(k: int, shape) -> int:
    return 7 if k < 0.1 * min(shape) else 4


def svd_subspace(
    op: Operator,
    k: int,
    tol: float,
    max_iter: int | None,
    gen,
    oversample: int = 15,
    start: torch.Tensor | None = None,
):
    """Returns torch ``U, S, V``, residuals and the number of iterations run.

    ``start`` (``(n, k')``, ``k' ≤ k + oversample``) replaces the first columns of the random
    sketch Ω: a warm start. The rest of Ω stays random.
    """
    m, n = op.shape
    like = torch.empty(0, dtype=op.torch_dtype, device=op.device)
    width = min(k + oversample, min(m, n))
    n_iter = default_subspace_iterations(k, op.shape) if max_iter is None else max_iter
    omega = random_block(gen, n, width, like)
    if start is not None:
        omega[:, : start.shape[1]] = start[:, :width] * n**0.5  # the random columns' scale
    Q, _, _ = orthonormalize(op.matmat(omega), None, gen)
    previous = None
    for it in range(n_iter):
        Z = op.rmatmat(Q)
        if previous is not None:
            # Aᵀu for the previous Ritz vectors comes free from this product: check them.
            U, S, V, AV, X = previous
            res = residuals_from_products(AV, Z @ X, U, S, V)
            if bool(res.max() <= tol):
                return U, S, V, res, it
        Qz, _, _ = orthonormalize(Z, None, gen)
        Y = op.matmat(Qz)
        Q, _, Ry = orthonormalize(Y, None, gen)
        # Two-sided Rayleigh–Ritz: Qᵀ A Qz = Ry, so A (Qz w) = Q Ry w exactly.
        X, S, Wt = torch.linalg.svd(Ry)
        X, S, W = X[:, :k], S[:k], Wt[:k].T
        previous = (Q @ X, S, Qz @ W, Y @ W, X)
    # Final Rayleigh–Ritz on B = QᵀA = Zᵀ (as in Halko et al.), verified with A V.
    Z = op.rmatmat(Q)
    X, S, Wt = torch.linalg.svd(Z.T, full_matrices=False)
    X, S, V = X[:, :k], S[:k], Wt[:k].T
    U = Q @ X
    res = residuals_from_products(op.matmat(V), Z @ X, U, S, V)
    return U, S, V, res, n_iter

"""``method="power"``: the power method on AᵀA, one triplet at a time, with deflation.

The textbook method (Golub & Van Loan, *Matrix Computations*, 4th ed., §8.2.1 and §7.3):
repeat ``v ← AᵀA v / ‖AᵀA v‖`` until v stays on its line, read off ``σ = ‖A v‖`` and
``u = A v / σ``, then deflate — subtract ``σ u vᵀ`` — and start again for the next triplet.
It converges at the rate σ_{i+1}²/σ_i², so it is slow where singular values are close.
"""

from __future__ import annotations

import torch

from ..exceptions import SvdlensError
from ._operator import Operator
from ._orth import random_block
from ._result import NONFINITE

__all__ = ["svd_power"]

CHECK_EVERY = 4  # iterations between convergence checks (each check is one host sync)
# The deflated test ignores the error left in earlier triplets, so it aims below tol.
INNER = 0.25


def svd_power(op: Operator, k: int, tol: float, max_iter: int, gen: torch.Generator):
    """Returns torch ``U (m,k), S (k,), V (n,k)`` and the number of iterations run."""
    m, n = op.shape
    like = torch.empty(0, dtype=op.torch_dtype, device=op.device)
    U = like.new_zeros(m, k)
    V = like.new_zeros(n, k)
    S = like.new_zeros(k)
    total = 0
    zero_level = torch.finfo(like.dtype).eps * max(m, n)
    scale = like.new_ones(())  # σ₁ once found: the residuals are relative to it
    for i in range(k):
        Ui, Vi, Si = U[:, :i], V[:, :i], S[:i]
        v = _unit(_orth(random_block(gen, n, 1, like), Vi))
        for it in range(1, max_iter + 1):
            w = _orth(op.matmat(v) - Ui @ (Si[:, None] * (Vi.T @ v)), Ui)  # deflated A v
            sigma = torch.linalg.vector_norm(w)
            u = _unit(w)
            z = _orth(op.rmatmat(u) - Vi @ (Si[:, None] * (Ui.T @ u)), Vi)  # deflated Aᵀ u
            # Av = σu holds by construction; the test is ‖Aᵀu − σv‖ for the deflated operator.
            if it % CHECK_EVERY == 0 or it == max_iter:
                gap = torch.linalg.vector_norm(z - sigma * v)
                if not bool(torch.isfinite(gap)):
                    raise SvdlensError(NONFINITE)
                if bool(gap <= INNER * tol * (sigma if i == 0 else scale)):
                    break
            if it < max_iter:
                v = _unit(z)
        total += it
        if float(sigma) <= zero_level * float(scale):  # the rest is zero (to rounding): complete both bases
            sigma = torch.zeros_like(sigma)
            u = _unit(_orth(random_block(gen, m, 1, like), Ui))
            v = _unit(_orth(random_block(gen, n, 1, like), Vi))
        U[:, i : i + 1], V[:, i : i + 1], S[i] = u, v, sigma
        if i == 0 and float(sigma) > 0:
            scale = sigma
    return U, S, V, total


def _orth(x: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """x with its components along ``basis`` removed, by Gram-Schmidt twice.

    One pass leaves O(eps·κ) of the basis behind, which in float32 shows as 1e-5–1e-4
    non-orthogonality; a second pass removes it ("twice is enough": Giraud, Langou, Rozložník
    & van den Eshof 2005).
    """
    x = x - basis @ (basis.T @ x)
    return x - basis @ (basis.T @ x)


def _unit(x: torch.Tensor) -> torch.Tensor:
    norm = torch.linalg.vector_norm(x)
    return x / torch.where(norm > 0, norm, torch.ones_like(norm))

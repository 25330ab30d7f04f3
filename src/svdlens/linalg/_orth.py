"""Orthonormalisation against a basis, with breakdown handled by fresh random directions."""

from __future__ import annotations

import torch

__all__ = ["orthonormalize", "random_block"]


def random_block(gen: torch.Generator, rows: int, cols: int, like: torch.Tensor) -> torch.Tensor:
    """Gaussian block drawn on the CPU (so that a seed gives the same numbers on every device)."""
    return torch.randn(rows, cols, generator=gen, dtype=torch.float64).to(device=like.device, dtype=like.dtype)


def _project_out(X: torch.Tensor, basis: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Two passes of classical Gram-Schmidt ("twice is enough", Giraud et al. 2005)."""
    if basis is None or basis.shape[1] == 0:
        return X, None
    C = basis.T @ X
    X = X - basis @ C
    C2 = basis.T @ X
    return X - basis @ C2, C + C2


def orthonormalize(X, basis=None, gen=None):
    """Orthonormalise the columns of ``X`` against ``basis`` and each other.

    Returns ``(Q, C, R)`` with ``X = basis @ C + Q @ R`` up to rounding, ``Q`` orthonormal and
    orthogonal to ``basis``. Columns of ``X`` that are (numerically) in the span of what came
    before are replaced by random directions (``R`` keeps their true, tiny coefficients): a
    Krylov method that meets an invariant subspace then carries on in a fresh direction.
    """
    tiny = _tiny(X)  # measured before projection: a block inside span(basis) must count as breakdown
    X, C = _project_out(X, basis)
    Q, R = torch.linalg.qr(X)
    if gen is None or not bool((R.diagonal().abs() <= tiny).any()):
        return Q, C, R
    # Rare path (breakdown): column by column, so that X = Q R still holds exactly.
    Q = torch.empty_like(X)
    R = torch.zeros(X.shape[1], X.shape[1], dtype=X.dtype, device=X.device)
    for j in range(X.shape[1]):
        prev = Q[:, :j] if basis is None else torch.cat([basis, Q[:, :j]], dim=1)
        x, _ = _project_out(X[:, j : j + 1], prev)
        norm = torch.linalg.vector_norm(x)
        if norm > tiny:
            Q[:, j : j + 1] = x / norm
        else:
            if prev.shape[1] + 1 > X.shape[0]:
                raise RuntimeError("no room left for a new orthonormal direction")
            z, _ = _project_out(random_block(gen, X.shape[0], 1, X), prev)
            Q[:, j : j + 1] = z / torch.linalg.vector_norm(z)
        R[: j + 1, j] = (Q[:, : j + 1].T @ X[:, j : j + 1])[:, 0]  # the true coefficients, tiny ones too
    return Q, C, R


def _tiny(X: torch.Tensor) -> torch.Tensor:
    """Below this a column is taken to lie in the span of what came before."""
    scale = torch.linalg.vector_norm(X, dim=0).max()
    return 10 * torch.finfo(X.dtype).eps * torch.clamp(scale, min=torch.finfo(X.dtype).tiny)

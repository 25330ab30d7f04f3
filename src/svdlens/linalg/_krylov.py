"""``method="krylov"``: thick-restarted block Golub–Kahan–Lanczos bidiagonalisation.

Golub & Kahan (1965) build orthonormal bases V of the Krylov space of AᵀA and U of AAᵀ with
``A V = U B``; the singular triplets of the small projected matrix ``B`` (Ritz values) converge
to the extreme singular triplets of A far faster than subspace iteration does (Musco & Musco
2015, "Randomized block Krylov methods for stronger and faster approximate SVD"). We keep:

- full reorthogonalisation, two passes of Gram–Schmidt against every basis vector, so that
  the bases stay orthonormal to working precision (no ghost singular values);
- thick restarts (Wu & Simon 2000; Baglama & Reichel 2005, "Augmented implicitly restarted
  Lanczos bidiagonalization methods"): when the basis reaches ``max_dim`` vectors, keep the
  best Ritz vectors and carry on from the residual block, so memory stays bounded;
- honest residuals: the products ``A V`` and ``Aᵀ U`` that the recurrence makes are stored
  and transformed with the bases, so ``max(‖Av − σu‖, ‖Aᵀu − σv‖)`` of every Ritz triplet is
  measured from real products at each step, at no extra cost. It stops when they reach tol.

``B`` is kept as the full matrix ``Uᵀ A V`` (block upper triangular, with an arrow after a
restart) rather than as a bidiagonal, which makes the restart exact and costs nothing at
the sizes involved.
"""

from __future__ import annotations

import math

import torch

from ..exceptions import SvdlensError
from ._operator import Operator
from ._orth import _project_out, orthonormalize, random_block
from ._result import residuals_from_products

__all__ = ["svd_krylov", "krylov_sizes"]


def krylov_sizes(k: int, shape, block_size: int | None, max_dim: int | None):
    """Block size, largest basis and vectors kept on restart."""
    r = min(shape)
    b = block_size or 1
    if b < 1:
        raise SvdlensError(f"block_size must be at least 1; got {b}")
    dim = max_dim or max(2 * k + 2 * b, k + 10 * b, 20)
    if dim < k:
        raise SvdlensError(f"max_dim={dim} must be at least k={k}")
    # Whole blocks only: a partial block would drop residual columns and break A V = U B.
    dim = min(b * math.ceil(dim / b), r)
    keep = b * math.ceil((k + (dim - k) // 2) / b)
    if keep > dim - b:
        keep = max(k, dim - b)
    return b, dim, keep


def svd_krylov(
    op: Operator,
    k: int,
    tol: float,
    max_iter: int | None,
    gen: torch.Generator,
    block_size: int | None = None,
    max_dim: int | None = None,
    start: torch.Tensor | None = None,
):
    """Returns torch ``U, S, V``, residuals and the number of block steps.

    ``start`` (``(n, k')``, ``k' ≤ block_size``) replaces the first columns of the random
    start block: a warm start. The rest of the block stays random.
    """
    if op.shape[0] < op.shape[1]:
        # Start in the smaller space, so that a full basis there makes the projection exact.
        # A warm start of right vectors becomes one of left vectors there: A V₀ (k' products).
        left = None if start is None else op.matmat(start)
        V, S, U, res, steps = svd_krylov(op.T, k, tol, max_iter, gen, block_size, max_dim, left)
        return U, S, V, res, steps
    m, n = op.shape
    r = min(m, n)
    b, dim, keep = krylov_sizes(k, op.shape, block_size, max_dim)
    max_steps = default_block_steps(b) if max_iter is None else max_iter
    max_steps = max(max_steps, math.ceil(k / b))  # at least enough steps to hold k vectors
    like = torch.empty(0, dtype=op.torch_dtype, device=op.device)
    V, AtU = like.new_zeros(n, dim), like.new_zeros(n, dim)
    U, AV = like.new_zeros(m, dim), like.new_zeros(m, dim)
    B = like.new_zeros(dim, dim)

    tiny = torch.finfo(like.dtype).tiny
    # A warm start that spans other singular vectors exactly is an invariant subspace: its Ritz
    # triplets are exact, so the first step could "converge" on them before the random columns
    # have grown. The random columns get one step of their own before any stop.
    min_steps = 1 if start is None else 2
    d = 0  # current size of the bases
    R = random_block(gen, n, b, like)  # the next block of V comes from here
    if start is not None:  # a warm start: its directions first, the rest of the block random
        norms = torch.linalg.vector_norm(start[:, :b], dim=0).clamp(min=torch.finfo(like.dtype).tiny)
        R[:, : min(start.shape[1], b)] = start[:, :b] / norms * math.sqrt(n)  # the random columns' scale
    for step in range(1, max_steps + 1):
        bs = min(b, dim - d)
        if R.shape[1] < bs:  # after a partial block and a restart: top up with fresh directions
            R = torch.cat([R, random_block(gen, n, bs - R.shape[1], like)], dim=1)
        Vn, _, _ = orthonormalize(R[:, :bs], V[:, :d], gen)
        W = op.matmat(Vn)
        Un, C, T = orthonormalize(W, U[:, :d], gen)
        if d:
            B[:d, d : d + bs] = C
        B[d : d + bs, d : d + bs] = T
        Z = op.rmatmat(Un)
        V[:, d : d + bs], U[:, d : d + bs] = Vn, Un
        AV[:, d : d + bs], AtU[:, d : d + bs] = W, Z
        d += bs
        R, _ = _project_out(Z, V[:, :d])
        if d < k:
            continue
        X, S, Yt = torch.linalg.svd(B[:d, :d])
        Xk, Sk, Yk = X[:, :k], S[:k], Yt[:k].T
        # Cheap estimate from the recurrence: Aᵀ(U x) − σ (V y) = R x[last block] for every Ritz pair.
        RtR = R.T @ R
        xl = Xk[d - bs : d]
        est = torch.sqrt(torch.clamp((xl * (RtR @ xl)).sum(0), min=0)) / torch.clamp(S[0], min=tiny)
        last = d == r or step == max_steps
        if last or (step >= min_steps and bool(est.max() <= tol)):
            # Verify from the stored real products before claiming convergence.
            Uk, Vk = U[:, :d] @ Xk, V[:, :d] @ Yk
            res = residuals_from_products(AV[:, :d] @ Yk, AtU[:, :d] @ Xk, Uk, Sk, Vk)
            if last or bool(res.max() <= tol):
                return Uk, Sk, Vk, res, step
        if d == dim:  # thick restart: keep the best `keep` Ritz triplets
            Xl, Yl = X[:, :keep], Yt[:keep].T
            V[:, :keep], AV[:, :keep] = V[:, :d] @ Yl, AV[:, :d] @ Yl
            U[:, :keep], AtU[:, :keep] = U[:, :d] @ Xl, AtU[:, :d] @ Xl
            B.zero_()
            B[:keep, :keep] = torch.diag(S[:keep])
            d = keep
    raise AssertionError("unreachable")  # pragma: no cover


def default_block_steps(b: int) -> int:
    """Default ``max_iter``: 2000 products with A (and as many with Aᵀ)."""
    return max(50, math.ceil(2000 / b))

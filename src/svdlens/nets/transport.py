"""Parallel transport of an h-space direction to another sample, and directions shared by many samples."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..linalg import svd
from .basis import LocalBasis

__all__ = ["transport", "Transported", "global_directions"]


class Transported(NamedTuple):
    v: torch.Tensor  # unit direction in the target's input space, shaped like its x
    kept: float  # ‖P u‖ / ‖u‖: how much of u lies in the target's top-k left-singular subspace
    coefficients: torch.Tensor  # cᵢ = ⟨u'ᵢ, u⟩


def transport(u: torch.Tensor, basis_to: LocalBasis) -> Transported:
    """Carry an h-space direction ``u`` to the sample of ``basis_to``; return an input-space direction there.

    With the target's triplets ``J' v'ᵢ = σ'ᵢ u'ᵢ`` (i = 1..k):

        cᵢ = ⟨u'ᵢ, u⟩                    (project u onto span{u'ᵢ}, the target's tangent image)
        v  = Σᵢ (cᵢ / σ'ᵢ) v'ᵢ            (the least-norm x-step whose first-order effect is Σ cᵢ u'ᵢ)
        v ← v / ‖v‖,   kept = ‖c‖ / ‖u‖

    Assumptions: H is treated as flat, so a vector at one sample's h is the same vector at
    another's (Park et al. 2023 make the same choice for the U-Net bottleneck); only the part of
    ``u`` inside the target's top-k subspace survives, and ``kept`` says how much that is. A
    ``kept`` near 0 means the direction has no counterpart at the target.
    """
    k = basis_to.k
    U = basis_to.u.reshape(k, -1)
    if u.numel() != U.shape[1]:
        raise ValueError(f"u has {u.numel()} entries; the target's h-space has {U.shape[1]}")
    uf = u.reshape(-1).to(U.dtype)
    norm = torch.linalg.vector_norm(uf)
    if float(norm) == 0.0:
        raise ValueError("u is zero: there is no direction to transport")
    c = U @ uf
    s = basis_to.s
    safe = torch.where(s > 0, s, torch.ones_like(s))
    w = torch.where(s > 0, c / safe, torch.zeros_like(c))
    v = (w[:, None] * basis_to.v.reshape(k, -1)).sum(0)
    vnorm = torch.linalg.vector_norm(v)
    v = v / torch.where(vnorm > 0, vnorm, torch.ones_like(vnorm))
    return Transported(v.reshape(basis_to.v.shape[1:]), float(torch.linalg.vector_norm(c) / norm), c)


def global_directions(bases: list[LocalBasis], k: int, *, method: str = "auto") -> torch.Tensor:
    """The k h-space directions shared by many samples' local bases, shape (k, *h.shape).

    The top-k left singular vectors of the stacked ``[U₁ … U_N]``. These are the top
    eigenvectors of the average projector ``(1/N) Σ Uᵢ Uᵢᵀ``, i.e. the extrinsic (chordal)
    Grassmann mean of the N subspaces — the same object two ways, so no choice is lost. Each
    basis counts equally: its u's are unit vectors, unweighted by σ, so one sample with a
    large Jacobian does not outvote the rest.
    """
    if not bases:
        raise ValueError("need at least one local basis")
    shape = tuple(bases[0].u.shape[1:])
    if any(tuple(b.u.shape[1:]) != shape for b in bases):
        raise ValueError("every basis must live in the same h-space (same u shape)")
    M = torch.cat([b.u.reshape(b.k, -1) for b in bases]).T  # (dim H, Σ kᵢ)
    if k > min(M.shape):
        raise ValueError(f"k={k} is more than the {min(M.shape)} directions the bases span")
    res = svd(M, k, method=method)
    return res.U.T.reshape((k,) + shape)

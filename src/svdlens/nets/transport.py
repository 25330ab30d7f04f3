"""Parallel transport of an h-space direction to another sample, and directions shared by many samples."""

from __future__ import annotations

from typing import NamedTuple

import torch
from scipy.sparse.linalg import lsqr

from ..linalg import Operator, svd
from .basis import LocalBasis

__all__ = ["transport", "Transported", "global_directions"]


class Transported(NamedTuple):
    v: torch.Tensor  # unit direction in the target's input space, shaped like its x
    kept: float  # cos(J'v, u): the share of u the step reproduces at the target, to first order
    coefficients: torch.Tensor  # cᵢ = ⟨u'ᵢ, u⟩, u on the target's top-k left singular vectors


METHODS = ("project", "lsqr")
DEFAULT_ITERATIONS = 50  # LSQR steps for method="lsqr" (docs/diffusion.md: how it was chosen)


def transport(u: torch.Tensor, basis_to: LocalBasis, *, method: str = "project", iterations: int = DEFAULT_ITERATIONS,
              jacobian: Operator | None = None) -> Transported:
    """Carry an h-space direction ``u`` to the sample of ``basis_to``; return an input-space direction there.

    H is treated as flat (Park et al. 2023 make the same choice for the U-Net bottleneck), so
    the transported vector in H is ``u`` itself. What remains is to pull it back: the x-step v at
    the target whose first-order effect J'v is as close to ``u`` as it can be, v ∝ J'⁺u.

    ``method="project"`` (Park et al. 2023) uses the target's rank-k pseudo-inverse, from the
    triplets ``J' v'ᵢ = σ'ᵢ u'ᵢ`` of its local basis:

        cᵢ = ⟨u'ᵢ, u⟩                    (project u onto span{u'ᵢ}, the target's top-k tangent image)
        v  = Σᵢ (cᵢ / σ'ᵢ) v'ᵢ            (the least-norm x-step whose first-order effect is Σ cᵢ u'ᵢ)

    It costs nothing beyond the basis, but only the part of ``u`` inside the target's top-k
    subspace survives.

    ``method="lsqr"`` solves min ‖J'v − u‖ on the target's whole Jacobian with LSQR (Paige &
    Saunders 1982, ``scipy.sparse.linalg.lsqr``): ``iterations`` JVP/VJP pairs. J' has many tiny
    singular values, so J'⁺u is ill-posed; stopping early is the regulariser (Hansen 1998,
    "Rank-Deficient and Discrete Ill-Posed Problems", §6.3). More iterations carry more of ``u``,
    and more of any direction, random ones included: ``bench/diffusion.py`` reports both. The
    Jacobian is ``basis_to.jacobian`` (kept by a fresh :func:`local_basis`) unless ``jacobian``
    is given.

    ``v`` is returned with unit norm; ``kept`` = cos(J'v, u), measured with one more JVP for
    "lsqr" and equal to ‖c‖/‖u‖ for "project". A ``kept`` near 0 means ``u`` has no counterpart
    at the target.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    k = basis_to.k
    U = basis_to.u.reshape(k, -1)
    if u.numel() != U.shape[1]:
        raise ValueError(f"u has {u.numel()} entries; the target's h-space has {U.shape[1]}")
    uf = u.reshape(-1).to(U.dtype)
    norm = torch.linalg.vector_norm(uf)
    if not bool(torch.isfinite(uf).all()):
        raise ValueError("u contains NaN or Inf")
    if float(norm) == 0.0:
        raise ValueError("u is zero: there is no direction to transport")
    c = U @ uf
    if method == "lsqr":
        return _transport_lsqr(uf, basis_to, c, iterations, jacobian)
    s = basis_to.s
    safe = torch.where(s > 0, s, torch.ones_like(s))
    w = torch.where(s > 0, c / safe, torch.zeros_like(c))
    v = (w[:, None] * basis_to.v.reshape(k, -1)).sum(0)
    return Transported(_unit(v).reshape(basis_to.v.shape[1:]), float(torch.linalg.vector_norm(c) / norm), c)


def _transport_lsqr(uf, basis_to, c, iterations, jacobian) -> Transported:
    J = basis_to.jacobian if jacobian is None else jacobian
    if J is None:
        raise ValueError("method='lsqr' needs the target's Jacobian: this basis was loaded from disk, so pass "
                         "jacobian=sl.jacobian(f, x) or use method='project'")
    n = basis_to.v[0].numel()
    if tuple(J.shape) != (uf.numel(), n):
        raise ValueError(f"the Jacobian has shape {tuple(J.shape)}; the target's basis needs {(uf.numel(), n)}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive whole number; got {iterations!r}")
    b = uf.detach().cpu().double().numpy()
    # atol = btol = 0: the iteration count alone decides where to stop (it is the regulariser).
    x = lsqr(J.to_scipy(), b, atol=0.0, btol=0.0, iter_lim=iterations)[0]
    v = torch.as_tensor(x, dtype=basis_to.v.dtype, device=basis_to.v.device)
    Jv = J.matmat(v.reshape(-1, 1)).reshape(-1).to(uf.dtype)
    kept = float(torch.nn.functional.cosine_similarity(Jv, uf, dim=0))
    return Transported(_unit(v).reshape(basis_to.v.shape[1:]), kept, c)


def _unit(v: torch.Tensor) -> torch.Tensor:
    vnorm = torch.linalg.vector_norm(v)
    return v / torch.where(vnorm > 0, vnorm, torch.ones_like(vnorm))


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

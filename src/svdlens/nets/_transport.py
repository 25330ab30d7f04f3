"""Parallel transport of an h-space direction to another sample, and directions shared by many samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy.sparse.linalg import lsqr

from .._progress import Progress
from .._validation import check_choice, check_int
from ..exceptions import SvdlensError
from ..linalg import Operator, svd
from ._basis import LocalBasis

__all__ = ["transport", "Transported", "global_directions", "TRANSPORT_METHODS"]


class Transported(NamedTuple):
    """An h-space direction carried to a target sample: the x-step there, and how well it does.

    Made by :func:`~svdlens.transport`.

    Attributes
    ----------
    v : torch.Tensor
        Unit direction in the target's input space, shaped like its x.
    kept : float
        cos(J'v, u): the share of u the step reproduces at the target, to first order.
    coefficients : torch.Tensor
        ``(k,)`` cᵢ = ⟨u'ᵢ, u⟩, u on the target's top-k left singular vectors.
    gain : float
        ‖J'v‖: how far h moves per unit step along v (compare with the target's σ'ᵢ).
    """

    v: torch.Tensor
    kept: float
    coefficients: torch.Tensor
    gain: float

    def _repr_html_(self) -> str:
        from .. import _html
        from ._figures import as_image

        c = np.abs(_html.as_numpy(self.coefficients).astype(float).ravel())
        return _html.card(
            "Transported: an h-space direction carried to a target sample",
            _html.facts(
                [("v shape", tuple(self.v.shape)), ("kept = cos(J'v, u)", self.kept), ("gain ‖J'v‖", self.gain)]
            ),
            _html.columns(
                ["i", "|cᵢ| = |⟨u'ᵢ, u⟩|"],
                [(i + 1, float(ci)) for i, ci in enumerate(c)],
                bars=c / c.max() if c.size and c.max() > 0 else np.zeros_like(c),
            ),
            _html.thumbnails([as_image(self.v)], ["v at the target"], signed=True),
        )

    def plot(self) -> Any:
        """Draw where ``u`` landed: ``|cᵢ|`` on the target's left singular vectors, with ``kept`` and ``gain``.

        Nothing is recomputed.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (made without pyplot).
        """
        from ._figures import transport_plot

        return transport_plot(self)


TRANSPORT_METHODS = ("project", "lsqr")
MAX_ITERATIONS = 100  # LSQR's cap for method="lsqr"; with damping it stops well before on the built-in model


def transport(
    u: torch.Tensor,
    basis_to: LocalBasis,
    *,
    method: str = "project",
    damp: float | None = None,
    iterations: int = MAX_ITERATIONS,
    jacobian: Operator | None = None,
) -> Transported:
    """Carry an h-space direction ``u`` to the sample of ``basis_to``; return an input-space direction there.

    H is treated as flat (Park et al. 2023 make the same choice for the U-Net bottleneck), so
    the transported vector in H is ``u`` itself. What remains is to pull it back: an x-step v at
    the target whose first-order effect J'v is as close to ``u`` as it can be, v ∝ J'⁺u.
    J' has many tiny singular values, so J'⁺u is ill-posed, and each method regularises it.

    ``method="project"`` (Park et al. 2023) truncates: it uses the target's rank-k
    pseudo-inverse, from the triplets ``J' v'ᵢ = σ'ᵢ u'ᵢ`` of its local basis,

        cᵢ = ⟨u'ᵢ, u⟩                    (project u onto span{u'ᵢ}, the target's top-k tangent image)
        v  = Σᵢ (cᵢ / σ'ᵢ) v'ᵢ            (the least-norm x-step whose first-order effect is Σ cᵢ u'ᵢ)

    It costs nothing beyond the basis; only the part of ``u`` inside that subspace survives.

    ``method="lsqr"`` damps instead (Tikhonov): v = argmin ‖J'v − u‖² + λ²‖v‖² on the target's
    whole Jacobian, solved by LSQR (Paige & Saunders 1982, ``scipy.sparse.linalg.lsqr``) in at
    most ``iterations`` JVP/VJP pairs. Each singular direction enters with the filter factor
    σ'²/(σ'² + λ²) (Hansen 1998, "Rank-Deficient and Discrete Ill-Posed Problems", §5.1);
    ``damp`` = λ defaults to σ'_k, the smallest singular value of the basis, so directions
    weaker than the basis count at most half. A smaller λ carries more of ``u`` through
    directions the target barely responds to: ``kept`` rises and ``gain`` falls, and an edit
    of the same strength then hardly changes the image (``bench/diffusion.py`` measures both).
    The Jacobian is ``basis_to.jacobian`` (kept by a fresh :func:`local_basis`) unless
    ``jacobian`` is given.

    ``v`` has unit norm; ``kept`` = cos(J'v, u) and ``gain`` = ‖J'v‖, computed from the
    basis for "project" and with one more JVP for "lsqr". A ``kept`` near 0 means ``u`` has no
    counterpart at the target.

    Parameters
    ----------
    u : torch.Tensor
        The h-space direction (a left singular vector of another sample, say), of the
        target's h shape or with as many entries.
    basis_to : LocalBasis
        The target sample's local basis.
    method : {"project", "lsqr"}
        Truncate to the basis (Park et al. 2023) or damp on the whole Jacobian (LSQR).
    damp : float, optional
        λ for ``method="lsqr"`` (default: the basis's smallest singular value σ'_k).
    iterations : int
        At most this many LSQR iterations (JVP/VJP pairs) for ``method="lsqr"``.
    jacobian : Operator, optional
        The target's Jacobian for ``method="lsqr"``, when ``basis_to`` has none (read from disk).

    Returns
    -------
    Transported
        ``v``, ``kept``, ``coefficients`` and ``gain``.

    Raises
    ------
    SvdlensError
        ``u`` of the wrong size, zero, NaN or Inf; an unknown method; ``method="lsqr"``
        without a Jacobian, or with a bad ``damp``.

    Examples
    --------
    The move that pushes h along its first axis is x's first axis at the source, and its
    second axis, with twice the gain, at the target:

    >>> import torch, svdlens as sl
    >>> W1 = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> W2 = torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.0, 0.0]])
    >>> b1 = sl.local_basis(lambda x: W1 @ x, torch.ones(2), k=2, method="exact")
    >>> b2 = sl.local_basis(lambda x: W2 @ x, torch.ones(2), k=2, method="exact")
    >>> b1.u[0].tolist(), b1.v[0].tolist()
    ([1.0, 0.0, 0.0], [1.0, 0.0])
    >>> moved = sl.transport(b1.u[0], b2)
    >>> moved.v.tolist(), moved.kept, moved.gain
    ([0.0, 1.0], 1.0, 2.0)
    """
    check_choice("method", method, TRANSPORT_METHODS)
    k = basis_to.k
    U = basis_to.u.reshape(k, -1)
    if u.numel() != U.shape[1]:
        raise SvdlensError(f"u has {u.numel()} entries; the target's h-space has {U.shape[1]}")
    uf = u.reshape(-1).to(U.dtype)
    norm = torch.linalg.vector_norm(uf)
    if not bool(torch.isfinite(uf).all()):
        raise SvdlensError("u contains NaN or Inf")
    if float(norm) == 0.0:
        raise SvdlensError("u is zero: there is no direction to transport")
    c = U @ uf
    if method == "lsqr":
        return _transport_lsqr(uf, basis_to, c, damp, iterations, jacobian)
    s = basis_to.s
    safe = torch.where(s > 0, s, torch.ones_like(s))
    w = torch.where(s > 0, c / safe, torch.zeros_like(c))
    v = (w[:, None] * basis_to.v.reshape(k, -1)).sum(0)
    wnorm = float(torch.linalg.vector_norm(w))
    gain = float(torch.linalg.vector_norm(w * s)) / wnorm if wnorm > 0 else 0.0  # ‖J'v‖/‖v‖, v'ᵢ orthonormal
    return Transported(_unit(v).reshape(basis_to.v.shape[1:]), float(torch.linalg.vector_norm(c) / norm), c, gain)


def _transport_lsqr(uf, basis_to, c, damp, iterations, jacobian) -> Transported:
    J = basis_to.jacobian if jacobian is None else jacobian
    if J is None:
        raise SvdlensError(
            "method='lsqr' needs the target's Jacobian: this basis was loaded from disk, so pass "
            "jacobian=sl.jacobian(f, x) or use method='project'"
        )
    n = basis_to.v[0].numel()
    if tuple(J.shape) != (uf.numel(), n):
        raise SvdlensError(f"the Jacobian has shape {tuple(J.shape)}; the target's basis needs {(uf.numel(), n)}")
    iterations = check_int("iterations", iterations)
    lam = float(basis_to.s[-1]) if damp is None else float(damp)
    if not lam >= 0 or lam == float("inf"):
        raise SvdlensError(f"damp must be a finite number ≥ 0; got {damp!r}")
    x = lsqr(J.to_scipy(), uf.detach().cpu().double().numpy(), damp=lam, iter_lim=iterations)[0]
    v = _unit(torch.as_tensor(x, dtype=basis_to.v.dtype, device=basis_to.v.device))
    Jv = J.matmat(v.reshape(-1, 1)).reshape(-1).to(uf.dtype)
    kept = float(torch.nn.functional.cosine_similarity(Jv, uf, dim=0))
    return Transported(v.reshape(basis_to.v.shape[1:]), kept, c, float(torch.linalg.vector_norm(Jv)))


def _unit(v: torch.Tensor) -> torch.Tensor:
    vnorm = torch.linalg.vector_norm(v)
    return v / torch.where(vnorm > 0, vnorm, torch.ones_like(vnorm))


def global_directions(
    bases: Sequence[Any],
    k: int,
    *,
    method: str = "auto",
    basis_fn: Callable[[Any], LocalBasis] | None = None,
    client: Any = None,
    cache_dir: str | Path | None = None,
    progress: Progress = None,
    timeout: float = 10.0,
) -> torch.Tensor:
    """The k h-space directions shared by many samples' local bases, shape ``(k, *h.shape)``.

    The top-k left singular vectors of the stacked ``[U₁ … U_N]``. These are the top
    eigenvectors of the average projector ``(1/N) Σ Uᵢ Uᵢᵀ``, i.e. the extrinsic (chordal)
    Grassmann mean of the N subspaces — the same object two ways, so no choice is lost. Each
    basis counts equally: its u's are unit vectors, unweighted by σ, so one sample with a
    large Jacobian does not outvote the rest.

    With ``basis_fn``, ``bases`` are the samples themselves and their local bases are made
    first by :func:`svdlens.nets.local_bases`: here, or one task per sample on a dask
    cluster (``client``), each cached in ``cache_dir``. ``svdlens.diffusion.ImageBasis`` is
    such a ``basis_fn`` for images and a diffusion model.

    Parameters
    ----------
    bases : list of LocalBasis, or sequence
        The samples' local bases, all with the same h shape; with ``basis_fn``, the samples.
    k : int
        How many directions.
    method : str
        The :func:`svdlens.svd` method for the stacked u's.
    basis_fn : callable, optional
        ``basis_fn(sample) -> LocalBasis``, to make the bases from the samples.
    client : distributed.Client or str, optional
        With ``basis_fn``: a dask cluster (or its scheduler's address) to run one task per sample on.
    cache_dir : path, optional
        With ``basis_fn``: where each sample's basis is cached (``basis_fn`` needs a ``cache_token``).
    progress : callable, optional
        With ``basis_fn``: ``progress(done, total, label)`` after each basis.
    timeout : float
        With ``basis_fn`` and an address as ``client``: seconds to wait for the scheduler.

    Returns
    -------
    torch.Tensor
        ``(k, *h.shape)`` orthonormal directions, the most shared first.

    Raises
    ------
    SvdlensError
        No bases, bases in different h-spaces, or ``k`` above the directions they span; with
        ``basis_fn``, as :func:`svdlens.nets.local_bases` raises.

    Examples
    --------
    Two of three samples move h most along its first axis; the third along its last:

    >>> import torch, svdlens as sl
    >>> Ws = [torch.tensor(W) for W in ([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]],
    ...                                 [[0.0, 2.0], [1.0, 0.0], [0.0, 0.0]],
    ...                                 [[0.0, 0.0], [0.0, 1.0], [5.0, 0.0]])]
    >>> bases = [sl.local_basis(lambda x, W=W: W @ x, torch.ones(2), k=1, method="exact") for W in Ws]
    >>> sl.global_directions(bases, k=1).tolist()
    [[1.0, 0.0, 0.0]]

    The same from the samples, with a function that makes each one's basis:

    >>> def basis(W):
    ...     return sl.local_basis(lambda x: W @ x, torch.ones(2), k=1, method="exact")
    >>> sl.global_directions(Ws, k=1, basis_fn=basis).tolist()
    [[1.0, 0.0, 0.0]]
    """
    k = check_int("k", k)
    if basis_fn is not None:
        from ._distributed import local_bases

        bases = local_bases(
            bases, basis_fn, client=client, cache_dir=cache_dir, progress=progress, timeout=timeout
        ).bases
    elif client is not None or cache_dir is not None:
        raise SvdlensError("client and cache_dir are for making the bases: give basis_fn too")
    if not bases:
        raise SvdlensError("need at least one local basis")
    shape = tuple(bases[0].u.shape[1:])
    if any(tuple(b.u.shape[1:]) != shape for b in bases):
        raise SvdlensError("every basis must live in the same h-space (same u shape)")
    M = torch.cat([b.u.reshape(b.k, -1) for b in bases]).T  # (dim H, Σ kᵢ)
    if k > min(M.shape):
        raise SvdlensError(f"k={k} is more than the {min(M.shape)} directions the bases span")
    res = svd(M, k, method=method)
    return res.U.T.reshape((k,) + shape)

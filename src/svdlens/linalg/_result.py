"""The SVD result and the steps every method finishes with: signs, residuals, output type."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..exceptions import ConvergenceWarning, SvdlensError
from ._operator import Operator

__all__ = [
    "SVDResult",
    "fix_signs",
    "residuals_from_products",
    "tol_floor",
]


@dataclass(repr=False)
class SVDResult:
    """A truncated SVD ``A ~ U @ diag(S) @ Vt`` and how it was obtained.

    Made by :func:`svdlens.svd`; ``U, S, Vt = result`` unpacks the factors. The arrays are
    numpy arrays for numpy, sparse and operator input, torch tensors for torch input.

    Attributes
    ----------
    U : numpy.ndarray or torch.Tensor
        ``(m, k)`` left singular vectors, columns orthonormal.
    S : numpy.ndarray or torch.Tensor
        ``(k,)`` singular values, descending.
    Vt : numpy.ndarray or torch.Tensor
        ``(k, n)`` right singular vectors, rows orthonormal.
    residuals : numpy.ndarray or torch.Tensor
        ``(k,)`` ``max(|A v - s u|, |A.T u - s v|) / s_1`` per triplet, from real products.
    n_matvec : int
        Products with A or A.T, a block of b vectors counting b.
    converged : bool
        Every residual is at most ``tol`` (always True for direct methods).
    method : str
        The method that ran ("exact", "eig", "power", "subspace" or "krylov").
    iterations : int
        Solver iterations (block steps for krylov, power steps for power,
        subspace iterations for subspace, 0 for direct methods).
    tol : float
        The tolerance the residuals were held to (``tol`` raised to what the dtype can resolve).

    Examples
    --------
    >>> import numpy as np, svdlens as sl
    >>> res = sl.svd(np.diag([3.0, 1.0]))
    >>> res.k, res.S.tolist(), res.converged, res.method
    (2, [3.0, 1.0], True, 'exact')
    """

    U: Any
    S: Any
    Vt: Any
    residuals: Any
    n_matvec: int
    converged: bool
    method: str
    iterations: int = 0
    tol: float = 0.0

    def __iter__(self) -> Iterator[Any]:
        yield self.U
        yield self.S
        yield self.Vt

    @property
    def k(self) -> int:
        """The number of triplets."""
        return int(self.S.shape[0])

    def __repr__(self) -> str:
        S = np.asarray(self.S.cpu() if isinstance(self.S, torch.Tensor) else self.S)
        r = np.asarray(self.residuals.cpu() if isinstance(self.residuals, torch.Tensor) else self.residuals)
        shown = np.array2string(S[:6], precision=4)
        more = " ..." if len(S) > 6 else ""
        return (
            f"SVDResult(method={self.method!r}, k={len(S)}, S={shown}{more}, "
            f"max residual={r.max() if len(r) else 0:.1e}, converged={self.converged}, "
            f"n_matvec={self.n_matvec}, iterations={self.iterations})"
        )

    def _repr_html_(self) -> str:
        from .. import _html

        r = _html.as_numpy(self.residuals)
        return _html.card(
            f"SVDResult: {self.k} singular triplets",
            _html.facts(
                [
                    ("A shape", (int(self.U.shape[0]), int(self.Vt.shape[1]))),
                    ("method", self.method),
                    ("converged", self.converged),
                    ("max residual", f"{r.max():.1e}" if r.size else None),
                    ("tol", f"{self.tol:.1e}"),
                    ("products with A or Aᵀ", self.n_matvec),
                    ("iterations", self.iterations),
                ]
            ),
            _html.spectrum_rows(self.S, r),
        )

    def plot(self) -> Any:
        """Draw the singular values as bars, each with its certified residual above it.

        Nothing is recomputed: the figure shows ``S`` and ``residuals`` as they are.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (made without pyplot).

        Examples
        --------
        >>> import numpy as np, svdlens as sl
        >>> type(sl.svd(np.diag([3.0, 1.0])).plot()).__name__
        'Figure'
        """
        from .. import _html

        return _html.spectrum_figure(
            self.S,
            self.residuals,
            f"SVD spectrum ({self.method}; residual above each bar; converged: {self.converged})",
        )


def tol_floor(dtype: torch.dtype, shape) -> float:
    """The smallest relative residual a product in this dtype can certify.

    The rounding error of ``A @ v`` grows like ``eps * sqrt(n) * |A|``; we ask for a margin
    of 16 above it (measured: 11 eps on 3×2 float32) so that rounding never refuses a converged solver.
    """
    eps = torch.finfo(dtype).eps
    return float(16 * eps * np.sqrt(max(shape)))


def fix_signs(U: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each pair (u, v) so that the entry of u largest in magnitude is positive."""
    if U.shape[1] == 0:
        return U, V
    idx = U.abs().argmax(dim=0)
    s = torch.sign(U.gather(0, idx[None, :]))[0]
    s = torch.where(s == 0, torch.ones_like(s), s)
    return U * s, V * s


def residuals_from_products(AV, AtU, U, S, V) -> torch.Tensor:
    """Per triplet ``max(|A v - s u|, |A.T u - s v|) / s_1`` from the products A V and A.T U."""
    ra = torch.linalg.vector_norm(AV - U * S, dim=0)
    rb = torch.linalg.vector_norm(AtU - V * S, dim=0)
    scale = S.max() if S.numel() else S.new_ones(())
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.maximum(ra, rb) / scale


def explicit_residuals(op: Operator, U, S, V) -> torch.Tensor:
    """Residuals from fresh products with the operator (2k products, counted)."""
    return residuals_from_products(op.matmat(V), op.rmatmat(U), U, S, V)


NONFINITE = "the operator returned NaN or Inf in a product; check that A @ X and A.T @ Y are finite for finite input"


def check_finite(S: torch.Tensor, residuals: torch.Tensor) -> None:
    if not bool(torch.isfinite(S).all() & torch.isfinite(residuals).all()):
        raise SvdlensError(NONFINITE)


def finish(
    op: Operator,
    U: torch.Tensor,
    S: torch.Tensor,
    V: torch.Tensor,
    residuals: torch.Tensor | None,
    *,
    method: str,
    tol: float,
    iterations: int,
    output: str,
    direct: bool = False,
) -> SVDResult:
    """Sort, fix signs, compute residuals if needed, warn when unconverged, convert output."""
    order = torch.argsort(S, descending=True)
    U, S, V = U[:, order], S[order], V[:, order]
    if residuals is None:
        U, V = fix_signs(U, V)
        residuals = explicit_residuals(op, U, S, V).detach()  # products of a graph-carrying function
    else:
        residuals = residuals[order]
        U, V = fix_signs(U, V)
    check_finite(S, residuals)
    worst = float(residuals.max()) if residuals.numel() else 0.0
    converged = True if direct else worst <= tol
    if not converged:
        warnings.warn(
            f"svd(method={method!r}) stopped after {iterations} iterations and {op.n_matvec} "
            f"products with the largest residual {worst:.2e} above tol={tol:.1e}; the result "
            "is flagged converged=False. Raise max_iter, loosen tol, or try method='krylov'.",
            ConvergenceWarning,
            stacklevel=3,
        )
    Vt = V.T
    if output == "numpy":
        out: tuple[Any, ...] = tuple(np.ascontiguousarray(t.detach().cpu().numpy()) for t in (U, S, Vt, residuals))
    else:
        out = (U, S, Vt.contiguous(), residuals)
    U, S, Vt, residuals = out
    return SVDResult(
        U=U,
        S=S,
        Vt=Vt,
        residuals=residuals,
        n_matvec=op.n_matvec,
        converged=converged,
        method=method,
        iterations=iterations,
        tol=tol,
    )

"""``svdlens.svd``: one entry point to every SVD method, for every kind of matrix."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from numpy.typing import ArrayLike

from .._threads import one_torch_thread
from .._validation import check_choice, check_float, check_int, check_optional_int
from ..exceptions import InvalidParameterError, SvdlensError
from ._checks import as_matrix, check_k
from ._eig import svd_eig
from ._exact import svd_exact
from ._krylov import svd_krylov
from ._operator import Operator, as_operator
from ._power import svd_power
from ._result import NONFINITE, SVDResult, finish, tol_floor
from ._subspace import svd_subspace

__all__ = ["svd", "METHODS"]

METHODS = ("exact", "eig", "power", "subspace", "krylov", "auto")
_OPTIONS = {"krylov": {"block_size", "max_dim"}, "subspace": {"oversample"}}


def _choose(A, k: int | None) -> str:
    """``auto``: LAPACK for small or dense-and-wanted-in-full, Krylov otherwise."""
    if isinstance(A, (np.ndarray, torch.Tensor)):
        m, n = A.shape
        if k is None or m * n <= 250_000 or k > min(m, n) // 5:
            return "exact"
        return "krylov"
    return "exact" if k is None else "krylov"


def svd(
    A: ArrayLike | torch.Tensor | sp.spmatrix | sp.sparray | spla.LinearOperator | Operator,
    k: int | None = None,
    *,
    method: str = "auto",
    tol: float = 1e-8,
    max_iter: int | None = None,
    seed: int = 0,
    start: ArrayLike | torch.Tensor | None = None,
    **options: int,
) -> SVDResult:
    """Singular value decomposition ``A ≈ U @ diag(S) @ Vt`` of the top ``k`` triplets.

    Parameters
    ----------
    A : array_like, torch.Tensor, scipy sparse matrix, scipy LinearOperator or Operator
        The matrix: a numpy array, a torch tensor (CPU or CUDA), a scipy sparse matrix, a scipy
        LinearOperator or an :class:`svdlens.Operator`. Only ``A @ X`` and ``A.T @ Y`` are
        needed by the iterative methods.
    k : int, optional
        How many triplets, the largest first. ``None`` means all ``min(m, n)`` (dense methods).
    method : {"auto", "exact", "eig", "power", "subspace", "krylov"}
        - ``"exact"``: LAPACK (``gesdd``); operators are written down first.
        - ``"eig"``: first principles — eigenvectors of AᵀA (or AAᵀ), ``σ = √λ``, ``u = A v / σ``.
        - ``"power"``: power method with deflation, one triplet at a time.
        - ``"subspace"``: randomized subspace iteration (Halko, Martinsson & Tropp 2011).
        - ``"krylov"``: restarted block Golub–Kahan–Lanczos; stops when residuals reach ``tol``.
        - ``"auto"``: ``"exact"`` for small explicit matrices or ``k=None``, ``"krylov"`` otherwise.
    tol : float
        Iterative methods stop when every residual ``max(‖Av − σu‖, ‖Aᵀu − σv‖) / σ₁`` is at most
        ``tol``. A tol finer than the dtype can resolve (``16·eps·√max(m, n)``) is raised to that.
    max_iter : int, optional
        Iteration cap: block steps (krylov), power steps per triplet (power), subspace
        iterations (subspace; default 7, or 4 when k ≥ min(m, n)/10).
    seed : int
        Seed of the random start; the same seed gives the same result on every device.
    start : array_like or torch.Tensor, optional
        A warm start: ``(k', n)`` starting right vectors (rows are directions, like ``Vt`` or
        ``basis.v``; any shape after the first axis with ``n`` entries), for ``"krylov"`` and
        ``"subspace"`` (``"auto"`` then means ``"krylov"``). They replace the first ``k'``
        columns of the random start block, the rest of which stays random (seeded), so a
        poor start costs little; the residuals and the stopping rule are those of a cold start,
        except that krylov takes at least two block steps (so that a start spanning other,
        smaller singular vectors exactly cannot pass for the top ones). At least one column
        stays random: ``k'`` is below the block size (krylov; ``block_size`` defaults to
        ``k' + 1`` when a start is given) or below ``k + oversample`` (subspace).
    **options
        ``block_size`` and ``max_dim`` (krylov), ``oversample`` (subspace, default 15).

    Returns
    -------
    SVDResult
        ``U (m, k)``, ``S (k,)`` descending, ``Vt (k, n)``, ``residuals``, ``n_matvec``,
        ``converged``, ``method``, ``iterations``. numpy in → numpy out; torch in → torch out
        on the same device. Signs: the largest-magnitude entry of each ``u`` is positive.

    Raises
    ------
    SvdlensError
        NaN or Inf, an empty or non-2-D array, non-numeric data, ``k <= 0`` or ``k > min(m, n)``,
        an unknown method or option (every svdlens error is a ``ValueError``).

    Warns
    -----
    ConvergenceWarning
        An iterative method stopped above ``tol``; the result has ``converged=False``.
    PrecisionWarning
        ``method="eig"`` lost digits to the Gram matrix.

    Examples
    --------
    >>> import numpy as np, svdlens as sl
    >>> res = sl.svd(np.array([[2.0, 1.0], [1.0, 3.0]]))
    >>> np.round(res.S, 4).tolist()
    [3.618, 1.382]
    >>> U, S, Vt = res
    >>> bool(np.allclose(U @ np.diag(S) @ Vt, [[2, 1], [1, 3]]))
    True

    A warm start from a known basis converges in two block steps:

    >>> A = np.diag(np.arange(40.0, 0.0, -1.0))
    >>> cold = sl.svd(A, 3, method="krylov", block_size=3)
    >>> warm = sl.svd(A, 3, method="krylov", start=cold.Vt)
    >>> warm.iterations, warm.n_matvec < cold.n_matvec, bool(np.allclose(warm.S, [40, 39, 38]))
    (2, True, True)
    """
    check_choice("method", method, METHODS)
    tol = check_float("tol", tol, low=0.0, low_open=True)
    max_iter = check_optional_int("max_iter", max_iter)
    seed = check_int("seed", seed, low=0)
    A = as_matrix(A)
    k = check_k(k, A.shape)
    if method == "auto":
        method = "krylov" if start is not None else _choose(A, k)
    if start is not None and method not in ("krylov", "subspace"):
        raise InvalidParameterError(
            f"start (a warm start) is taken by method='krylov' and method='subspace' only; got method={method!r}"
        )
    if start is not None and k is None:
        raise InvalidParameterError("start (a warm start) needs k, the number of triplets")
    allowed = _OPTIONS.get(method, set())
    unknown = set(options) - allowed
    if unknown:
        raise InvalidParameterError(
            f"svd(method={method!r}) got unknown option(s) {sorted(unknown)}; it takes {sorted(allowed) or 'none'}"
        )
    output = "torch" if isinstance(A, torch.Tensor) or (isinstance(A, Operator) and A.is_torch) else "numpy"
    dense = torch.from_numpy(A) if isinstance(A, np.ndarray) else A if isinstance(A, torch.Tensor) else None
    op = as_operator(dense if dense is not None else A)  # dense numpy runs as a zero-copy torch view
    products_before = op.n_matvec
    gen = torch.Generator().manual_seed(int(seed))
    tol = max(float(tol), tol_floor(op.torch_dtype, op.shape))
    if method in ("power", "subspace", "krylov") and k is None:
        raise SvdlensError(f"method={method!r} needs k, the number of triplets; use method='exact' for all of them")

    solver_options: dict[str, int | torch.Tensor] = dict(options)
    if start is not None and k is not None:
        block = _start_block(start, op, method, k, options)
        solver_options["start"] = block
        if method == "krylov" and options.get("block_size") is None:
            solver_options["block_size"] = block.shape[1] + 1  # one random column at least

    residuals, iterations, direct = None, 0, method in ("exact", "eig")
    # Products on numpy's threaded BLAS interleaved with torch's pool: the small solver algebra on one thread.
    opaque_numpy = not op.is_torch and not sp.issparse(A)
    with one_torch_thread() if opaque_numpy else nullcontext():
        try:
            U, S, V, residuals, iterations = _run(method, dense, op, k, tol, max_iter, gen, solver_options)
        except (torch.linalg.LinAlgError, np.linalg.LinAlgError) as err:
            if "non-finite" in str(err) or "NaN" in str(err):
                raise SvdlensError(NONFINITE) from err
            raise
    result = finish(op, U, S, V, residuals, method=method, tol=tol, iterations=iterations, output=output, direct=direct)
    result.n_matvec = op.n_matvec - products_before
    return result


def _start_block(start, op: Operator, method: str, k: int, options: dict) -> torch.Tensor:
    """The warm start as an ``(n, k')`` block on the operator's device and dtype, checked."""
    m, n = op.shape
    if isinstance(start, torch.Tensor):
        block = start.detach()
        if block.is_complex():
            raise InvalidParameterError("start must hold real numbers; got complex ones")
        if not (block.is_floating_point() or block.dtype in _INT_DTYPES):
            raise InvalidParameterError(f"start must be an array of numbers; got dtype {block.dtype}")
    else:
        array = np.asarray(start)
        if array.dtype.kind == "c":
            raise InvalidParameterError("start must hold real numbers; got complex ones")
        if array.dtype.kind not in "biuf":
            raise InvalidParameterError(
                f"start must be an array of numbers; got {type(start).__name__} of dtype {array.dtype}"
            )
        block = torch.as_tensor(array.astype(np.float64))
    if block.ndim == 1:
        block = block[None]
    if block.ndim == 0 or block.shape[0] == 0 or block[0].numel() != n:
        raise InvalidParameterError(
            f"start must hold (k', ...) directions of {n} numbers each (rows are vectors, like Vt); "
            f"got shape {tuple(block.shape)}"
        )
    block = block.reshape(block.shape[0], n)
    count = block.shape[0]
    if count > min(m, n):
        raise InvalidParameterError(f"start holds {count} directions, more than min(m, n) = {min(m, n)}")
    if method == "krylov":
        b = options.get("block_size")
        if b is not None and count >= b:
            raise InvalidParameterError(
                f"start holds {count} directions; block_size={b} leaves no column for a random direction: "
                f"give at most {b - 1} or a block_size above {count}"
            )
    else:
        width = min(k + options.get("oversample", 15), min(m, n))
        if count >= width:
            raise InvalidParameterError(
                f"start holds {count} directions; the subspace block has {width} columns (k + oversample) "
                f"and needs one for a random direction: give at most {width - 1}"
            )
    block = block.to(torch.float64)
    bad = ~torch.isfinite(block)
    if bool(bad.any()):
        row, col = (int(i) for i in bad.nonzero()[0])
        raise InvalidParameterError(
            f"start contains {int(bad.sum())} NaN or Inf value(s), the first in direction {row} at entry {col}"
        )
    norms = torch.linalg.vector_norm(block, dim=1)
    if bool((norms == 0).any()):
        raise InvalidParameterError(f"start direction {int((norms == 0).nonzero()[0])} is all zeros")
    # Unit columns: the random columns beside them keep their own scale, and none looks like breakdown.
    return (block / norms[:, None]).T.to(device=op.device, dtype=op.torch_dtype)


_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def _run(method, dense, op, k, tol, max_iter, gen, options):
    residuals, iterations = None, 0
    if method == "exact":
        U, S, V = svd_exact(dense, op, k)
    elif method == "eig":
        U, S, V = svd_eig(dense, op, k, gen)
    elif method == "power":
        U, S, V, iterations = svd_power(op, k, tol, max_iter or 1000, gen)
    elif method == "subspace":
        U, S, V, residuals, iterations = svd_subspace(op, k, tol, max_iter, gen, **options)
    else:
        U, S, V, residuals, iterations = svd_krylov(op, k, tol, max_iter, gen, **options)
    return U, S, V, residuals, iterations

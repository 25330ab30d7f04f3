"""Input checks shared by the solvers: each bad input gets a ValueError that says what to do."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from .._validation import check_int
from ..exceptions import InvalidParameterError, SvdlensError
from ._operator import Operator

__all__ = ["as_matrix", "check_k", "is_explicit"]


def is_explicit(A) -> bool:
    """True for matrices whose entries are at hand (dense arrays and tensors, sparse matrices)."""
    return isinstance(A, (np.ndarray, torch.Tensor)) or sp.issparse(A)


def as_matrix(A):
    """Validate ``A`` and convert it to a floating form the solvers accept.

    Dense input becomes a float32/float64 numpy array or torch tensor (integers and
    booleans become float64 in numpy and the default float in torch; float16 and
    bfloat16 become float32). Sparse matrices become float CSR. Operators and
    LinearOperators are checked for shape only: their entries are not at hand.
    """
    if isinstance(A, Operator):
        return A
    if isinstance(A, spla.LinearOperator):
        _check_shape(A.shape)
        if A.dtype is not None and np.dtype(A.dtype).kind == "c":
            raise SvdlensError(
                f"A is a complex LinearOperator (dtype {A.dtype}); svdlens works on real operators. "
                "Wrap the real embedding [[Re, -Im], [Im, Re]] instead."
            )
        return A
    if isinstance(A, torch.Tensor):
        return _check_tensor(A)
    if sp.issparse(A):
        return _check_sparse(A)
    return _check_array(A)


def _check_shape(shape) -> None:
    if len(shape) != 2:
        raise SvdlensError(
            f"A must be a 2-D matrix; got {len(shape)} dimension(s), shape {tuple(shape)}. "
            "Reshape it first, e.g. A.reshape(len(A), -1)."
        )
    if 0 in tuple(shape):
        raise SvdlensError(f"A is empty (shape {tuple(shape)}); an SVD needs at least one row and one column.")


def _report_nonfinite(bad: np.ndarray, n_nan: int, n_inf: int) -> None:
    i, j = (int(x) for x in np.argwhere(bad)[0])
    raise SvdlensError(
        f"A contains {n_nan} NaN and {n_inf} Inf entries (the first at row {i}, column {j}); "
        "remove or impute them before taking the SVD."
    )


def _check_array(A) -> np.ndarray:
    try:
        arr = np.asarray(A)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise SvdlensError(f"A could not be read as a matrix: {err}") from None
    if arr.dtype.kind in "c":
        raise SvdlensError(
            "A is complex; svdlens works on real matrices. Take the SVD of the real "
            "embedding [[Re, -Im], [Im, Re]] instead."
        )
    if arr.dtype.kind not in "biuf":
        raise SvdlensError(f"A must hold numbers; got dtype {arr.dtype}. Convert it, e.g. np.asarray(A, dtype=float).")
    _check_shape(arr.shape)
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        _report_nonfinite(bad, int(np.isnan(arr).sum()), int(np.isinf(arr).sum()))
    return arr


def _check_tensor(A: torch.Tensor) -> torch.Tensor:
    if A.is_complex():
        raise SvdlensError(
            "A is complex; svdlens works on real matrices. Take the SVD of the real "
            "embedding [[Re, -Im], [Im, Re]] instead."
        )
    _check_shape(A.shape)
    A = A.detach()
    if A.layout != torch.strided:
        A = A.to_dense()
    if not A.is_floating_point():
        A = A.to(torch.get_default_dtype())
    elif A.dtype in (torch.float16, torch.bfloat16):
        A = A.to(torch.float32)
    finite = torch.isfinite(A)
    if not bool(finite.all()):
        _report_nonfinite((~finite).cpu().numpy(), int(torch.isnan(A).sum()), int(torch.isinf(A).sum()))
    return A


def _check_sparse(A):
    _check_shape(A.shape)
    A = sp.csr_array(A)
    if A.dtype.kind in "c":
        raise SvdlensError("A is complex; svdlens works on real matrices.")
    if A.dtype.kind not in "biuf":
        raise SvdlensError(f"A must hold numbers; got dtype {A.dtype}.")
    if A.dtype not in (np.float32, np.float64):
        A = A.astype(np.float32 if A.dtype == np.float16 else np.float64)
    A.sum_duplicates()
    if not np.isfinite(A.data).all():
        coo = A.tocoo()
        bad = ~np.isfinite(coo.data)
        i, j = int(coo.row[bad][0]), int(coo.col[bad][0])
        raise SvdlensError(
            f"A contains {int(np.isnan(coo.data).sum())} NaN and {int(np.isinf(coo.data).sum())} "
            f"Inf entries (the first at row {i}, column {j}); remove or impute them first."
        )
    return A


def check_k(k, shape) -> int | None:
    """Validate the number of singular triplets asked for."""
    if k is None:
        return None
    k = check_int("k", k, low=None)
    r = min(shape)
    if k <= 0:
        raise InvalidParameterError(f"k must be at least 1; got {k}. Use k=None for all {r} triplets.")
    if k > r:
        raise InvalidParameterError(
            f"k={k} is more than min(m, n) = {r} for a {shape[0]}x{shape[1]} matrix; "
            f"a matrix of this shape has at most {r} singular values. Use k <= {r}."
        )
    return k

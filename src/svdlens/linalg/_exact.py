"""``method="exact"``: the dense SVD from LAPACK (gesdd, falling back to gesvd)."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from ..exceptions import SvdlensError
from ._operator import Operator
from ._result import NONFINITE

__all__ = ["svd_exact", "dense_of", "MAX_DENSE_ENTRIES"]

#: Operators larger than this (entries) are not written down densely (float64: 400 MB).
MAX_DENSE_ENTRIES = 50_000_000


def dense_of(A, op: Operator) -> torch.Tensor:
    """The matrix as a dense torch tensor: taken as is, or written down column block by column block."""
    if isinstance(A, torch.Tensor):
        return A
    if isinstance(A, np.ndarray):
        return torch.from_numpy(A)
    m, n = op.shape
    if m * n > MAX_DENSE_ENTRIES:
        raise SvdlensError(
            f"a {m}x{n} operator is too large to write down densely for method='exact' "
            f"(limit {MAX_DENSE_ENTRIES:,} entries); ask for k triplets with method='krylov'"
        )
    eye = torch.eye(n, dtype=op.torch_dtype, device=op.device)
    # detached: the products of a function whose weights require grad carry a graph the SVD does not need
    D = torch.cat([op.matmat(eye[:, j : j + 512]) for j in range(0, n, 512)], dim=1).detach()
    if not bool(torch.isfinite(D).all()):
        raise SvdlensError(NONFINITE)
    return D


def svd_exact(A, op: Operator, k: int | None):
    """Thin SVD by LAPACK, truncated to ``k``. Returns torch ``U (m,k), S (k,), V (n,k)``."""
    D = dense_of(A, op)
    if D.device.type == "cpu":
        a = D.numpy()
        try:
            U, S, Vt = scipy.linalg.svd(a, full_matrices=False, lapack_driver="gesdd", check_finite=False)
        except np.linalg.LinAlgError:  # gesdd can fail to converge where gesvd does not
            U, S, Vt = scipy.linalg.svd(a, full_matrices=False, lapack_driver="gesvd", check_finite=False)
        U, S, Vt = (torch.from_numpy(np.ascontiguousarray(x)) for x in (U, S, Vt))
    else:
        U, S, Vt = torch.linalg.svd(D, full_matrices=False)
    k = S.shape[0] if k is None else k
    return U[:, :k], S[:k], Vt[:k].T

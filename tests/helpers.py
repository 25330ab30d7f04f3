"""Test helpers: matrices with a known SVD and the backends they can be handed in."""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch


def known_svd(m, n, s, seed=0):
    """A = U diag(s) Vᵀ with random orthonormal U (m×r), V (n×r); returns A, U, s, V."""
    rng = np.random.default_rng(seed)
    r = len(s)
    U, _ = np.linalg.qr(rng.standard_normal((m, r)))
    V, _ = np.linalg.qr(rng.standard_normal((n, r)))
    return (U * s) @ V.T, U, np.asarray(s, float), V


def as_backend(A, backend, dtype=np.float64):
    A = np.asarray(A, dtype=dtype)
    if backend == "numpy":
        return A
    if backend == "torch":
        return torch.from_numpy(A.copy())
    if backend == "sparse":
        return sp.csr_array(A)
    if backend == "linop":
        return spla.aslinearoperator(A)
    raise ValueError(backend)


def to_numpy(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def independent_residuals(A, U, S, Vt):
    """max(|A v - s u|, |A.T u - s v|) / s_1, in float64 numpy, from the factors alone."""
    A = np.asarray(A, float)
    U, S, V = (to_numpy(x).astype(float) for x in (U, S, Vt))
    V = V.T
    scale = S.max() if S.size and S.max() > 0 else 1.0
    return np.maximum(np.linalg.norm(A @ V - U * S, axis=0), np.linalg.norm(A.T @ U - V * S, axis=0)) / scale

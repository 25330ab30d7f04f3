"""Property tests of svdlens.svd over shapes, ranks, dtypes, backends and methods."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import svdlens as sl
from helpers import as_backend, independent_residuals, known_svd, to_numpy

METHODS = ["exact", "eig", "power", "subspace", "krylov"]
BACKENDS = ["numpy", "torch", "sparse", "linop"]


@st.composite
def problems(draw):
    shape_kind = draw(st.sampled_from(["tall", "wide", "square", "row", "column"]))
    a, b = draw(st.integers(2, 14)), draw(st.integers(1, 14))
    m, n = {
        "tall": (a + b, a),
        "wide": (a, a + b),
        "square": (a, a),
        "row": (1, a + b),
        "column": (a + b, 1),
    }[shape_kind]
    r = min(m, n)
    rank = draw(st.integers(1, r))
    # Well separated singular values (ratio >= 1.5) so that every method converges.
    ratios = draw(st.lists(st.floats(1.5, 4.0), min_size=rank - 1, max_size=rank - 1))
    top = draw(st.floats(0.5, 20.0))
    s = [top]
    for q in ratios:
        s.append(s[-1] / q)
    k = draw(st.integers(1, r))
    seed = draw(st.integers(0, 2**16))
    A, U, s, V = known_svd(m, n, s, seed)
    return A, s, k


def tolerances(dtype):
    return (1e-9, 1e-7) if dtype == np.float64 else (5e-4, 5e-3)


@given(
    problem=problems(),
    method=st.sampled_from(METHODS),
    backend=st.sampled_from(BACKENDS),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_svd_properties(problem, method, backend, dtype):
    A, s_true, k = problem
    rank = len(s_true)
    s_full = np.zeros(min(A.shape))
    s_full[:rank] = s_true
    tol_s, tol_vec = tolerances(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.PrecisionWarning)
        res = sl.svd(as_backend(A, backend, dtype), k, method=method, max_iter=200 if method == "subspace" else None)
    U, S, Vt = (to_numpy(x).astype(float) for x in res)
    # Shapes and output type follow the input.
    assert U.shape == (A.shape[0], k) and S.shape == (k,) and Vt.shape == (k, A.shape[1])
    assert isinstance(res.S, torch.Tensor) == (backend == "torch")
    assert res.converged and res.method == method
    # Descending, and equal to the known singular values (agreement across methods).
    assert np.all(np.diff(S) <= 1e-12 * max(1.0, S[0]))
    np.testing.assert_allclose(S, s_full[:k], atol=tol_s * s_full[0] * 10)
    # Orthonormal factors.
    if method != "eig" or S[-1] > 1e-3 * S[0]:  # eig's u = Av/σ loses orthogonality as σ -> 0 (it warns)
        np.testing.assert_allclose(U.T @ U, np.eye(k), atol=tol_vec * 10)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(k), atol=tol_vec * 10)
    # Residuals recomputed independently match those reported, and meet tol.
    indep = independent_residuals(A, U, S, Vt)
    np.testing.assert_allclose(to_numpy(res.residuals), indep, atol=tol_vec)
    if method not in ("exact", "eig"):
        assert indep.max() <= res.tol + tol_vec
    # Reconstruction: A_k = U diag(S) Vt is the best rank-k approximation, error σ_{k+1}.
    err = np.linalg.norm(A - (U * S) @ Vt, 2)
    expected = s_full[k] if k < len(s_full) else 0.0
    assert err == pytest.approx(expected, abs=tol_s * s_full[0] * 10)
    # Deterministic signs: the largest |u| entry of each column is positive.
    idx = np.abs(U).argmax(axis=0)
    assert np.all(U[idx, np.arange(k)] >= 0)


@given(problem=problems(), dtype=st.sampled_from([np.float64, np.float32]))
def test_full_svd_reconstructs(problem, dtype):
    A, _, _ = problem
    res = sl.svd(A.astype(dtype))
    U, S, Vt = res
    np.testing.assert_allclose((U * S) @ Vt, A, atol=tolerances(dtype)[1] * max(1, np.abs(A).max()) * 10)
    assert res.method == "exact" and S.dtype == dtype

"""Method-specific behaviour of svdlens.svd, each checked against LAPACK or a known SVD."""

import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
import torch

import svdlens as sl
from helpers import independent_residuals, known_svd


def well_conditioned(m=40, n=25, seed=0):
    s = np.linspace(3.0, 1.0, min(m, n))
    return known_svd(m, n, s, seed)[0]


@pytest.mark.parametrize("shape", [(40, 25), (25, 40), (30, 30)])
def test_eig_agrees_with_lapack(shape):
    A = well_conditioned(*shape)
    U, S, Vt = sl.svd(A, method="eig")
    Ul, Sl, Vtl = scipy.linalg.svd(A, full_matrices=False)
    np.testing.assert_allclose(S, Sl, rtol=1e-10)
    # Same subspaces up to sign, per vector (the spectrum is simple).
    np.testing.assert_allclose(np.abs(np.sum(U * Ul, axis=0)), 1, atol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(Vt * Vtl, axis=1)), 1, atol=1e-10)


@pytest.mark.parametrize("shape", [(8, 5), (5, 8)])
def test_eig_completes_basis_for_zero_singular_values(shape):
    A, _, s, _ = known_svd(*shape, [4.0, 2.0], seed=3)  # rank 2
    with pytest.warns(sl.PrecisionWarning, match="right for a rank-deficient A"):
        res = sl.svd(A, method="eig")
    U, S, Vt = res
    np.testing.assert_allclose(S, [4, 2, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(U.T @ U, np.eye(5), atol=1e-12)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(5), atol=1e-12)
    np.testing.assert_allclose((U * S) @ Vt, A, atol=1e-12)


def test_eig_warns_and_counts_lost_digits():
    A = known_svd(20, 10, np.logspace(0, -10, 10), seed=1)[0]
    # σ₁₀ = 1e-10 is below what the Gram matrix resolves: it comes out as 0.
    with pytest.warns(sl.PrecisionWarning, match=r"below what the Gram matrix resolves and is returned as 0"):
        sl.svd(A, method="eig")
    B = known_svd(20, 10, np.logspace(0, -6, 10), seed=1)[0]
    with pytest.warns(sl.PrecisionWarning, match=r"keeps about 3 correct digit"):
        sl.svd(B, method="eig")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sl.svd(well_conditioned(), method="eig")  # no warning when nothing is lost


def test_nonconvergence_is_flagged_never_hidden():
    A = known_svd(300, 200, 1 / np.sqrt(np.arange(1, 201)), seed=0)[0]
    with pytest.warns(sl.ConvergenceWarning, match="converged=False"):
        res = sl.svd(A, 10, method="krylov", max_iter=3)
    assert not res.converged
    assert res.residuals.max() > res.tol
    np.testing.assert_allclose(res.residuals, independent_residuals(A, *res), atol=1e-12)
    with pytest.warns(sl.ConvergenceWarning):
        assert not sl.svd(A, 10, method="subspace").converged  # slow decay, default iterations
    with pytest.warns(sl.ConvergenceWarning):
        assert not sl.svd(A, 3, method="power", max_iter=5).converged


@pytest.mark.parametrize("method", ["power", "subspace", "krylov"])
def test_same_seed_same_answer(method):
    A = known_svd(60, 40, 2.0 ** -np.arange(40), seed=2)[0]
    a = sl.svd(A, 4, method=method, seed=7, max_iter=100 if method == "subspace" else None)
    b = sl.svd(A, 4, method=method, seed=7, max_iter=100 if method == "subspace" else None)
    np.testing.assert_array_equal(a.U, b.U)
    assert a.n_matvec == b.n_matvec


def test_krylov_blocks_and_restarts():
    s = 1 / np.sqrt(np.arange(1, 301))
    A = known_svd(500, 300, s, seed=4)[0]
    for block in (1, 3, 8):
        res = sl.svd(A, 12, method="krylov", block_size=block, max_dim=30)
        assert res.converged and res.iterations * block * 2 >= res.n_matvec - 2 * block
        np.testing.assert_allclose(res.S, s[:12], rtol=1e-9)
        np.testing.assert_allclose(res.residuals, independent_residuals(A, *res), atol=1e-12)
        assert res.residuals.max() <= 1e-8


def test_krylov_needs_fewer_products_than_subspace_iteration():
    s = 1 / np.sqrt(np.arange(1, 201))
    A = known_svd(400, 200, s, seed=5)[0]
    kry = sl.svd(A, 10, method="krylov", tol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sub = sl.svd(A, 10, method="subspace", tol=1e-6, max_iter=400)
    assert kry.converged and kry.n_matvec < sub.n_matvec / 3


def test_auto_picks_exact_for_small_and_krylov_for_large():
    assert sl.svd(np.eye(3)).method == "exact"
    big = sp.random(3000, 2000, density=0.001, random_state=0, format="csr")
    assert sl.svd(big, 3).method == "krylov"


def test_exact_writes_down_an_operator():
    A = well_conditioned(12, 7)
    op = sl.Operator(A.shape, lambda X: A @ X, lambda Y: A.T @ Y)
    res = sl.svd(op, method="exact")
    np.testing.assert_allclose(res.S, np.linalg.svd(A, compute_uv=False), rtol=1e-12)
    assert res.n_matvec == 7 + 2 * 7  # the identity's columns, then the residual products


def test_torch_float32_stays_float32():
    A = torch.from_numpy(well_conditioned()).float()
    for method in ("exact", "krylov", "subspace"):
        res = sl.svd(A, 3, method=method, max_iter=50 if method == "subspace" else None)
        assert res.S.dtype == torch.float32 and res.U.device == A.device
        np.testing.assert_allclose(res.S.numpy(), [3, 2.9166, 2.8333], rtol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_stays_on_device():  # pragma: no cover - runs where a GPU is present
    A = torch.from_numpy(well_conditioned()).cuda()
    for method in ("exact", "eig", "power", "subspace", "krylov"):
        res = sl.svd(A, 3, method=method, max_iter=50 if method == "subspace" else None)
        assert res.U.is_cuda and res.S.is_cuda and res.Vt.is_cuda


def test_zero_matrix():
    for method in ("exact", "eig", "power", "subspace", "krylov"):
        res = sl.svd(np.zeros((6, 4)), 2, method=method)
        np.testing.assert_array_equal(res.S, [0, 0])
        np.testing.assert_allclose(res.U.T @ res.U, np.eye(2), atol=1e-12)


def test_result_unpacks_and_prints():
    res = sl.svd(np.array([[2.0, 1.0], [1.0, 3.0]]))
    U, S, Vt = res
    assert "method='exact'" in repr(res) and res.k == 2

"""The Operator wraps every kind of matrix, counts products and hands itself back to scipy."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

import svdlens as sl
from helpers import as_backend
from svdlens.linalg import as_operator

A = np.arange(12, dtype=float).reshape(4, 3) - 5


@pytest.mark.parametrize("backend", ["numpy", "torch", "sparse", "linop"])
def test_products_and_counting(backend):
    op = as_operator(as_backend(A, backend))
    assert op.shape == (4, 3)
    X = np.random.default_rng(0).standard_normal((3, 5))
    np.testing.assert_allclose(op.matmat(X), A @ X)
    assert op.n_matvec == 5
    Y = np.random.default_rng(1).standard_normal((4, 2))
    np.testing.assert_allclose(op.rmatmat(Y), A.T @ Y)
    assert op.n_matvec == 7
    np.testing.assert_allclose(op.matvec(X[:, 0]), A @ X[:, 0])  # a vector counts once
    assert op.n_matvec == 8


def test_output_type_follows_input():
    op = as_operator(A)
    out = op.matmat(torch.ones(3, 2, dtype=torch.float64))
    assert isinstance(out, torch.Tensor) and out.shape == (4, 2)
    top = as_operator(torch.from_numpy(A))
    assert isinstance(top.matmat(np.ones((3, 1))), np.ndarray)
    assert top.is_torch and not op.is_torch


def test_transpose_shares_counter():
    op = as_operator(A)
    np.testing.assert_allclose(op.T.matmat(np.ones((4, 1))), A.T @ np.ones((4, 1)))
    assert op.n_matvec == 1 and op.T.shape == (3, 4)


def test_to_scipy_round_trip_with_svds():
    op = as_operator(sp.csr_array(A))
    lin = op.to_scipy()
    assert isinstance(lin, spla.LinearOperator) and lin.shape == (4, 3)
    s = spla.svds(lin, k=1, solver="arpack", random_state=0)[1]
    np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False)[:1])
    assert op.n_matvec > 0


def test_wrong_shapes():
    op = as_operator(A)
    with pytest.raises(ValueError, match=r"matmat needs an array of shape \(3,\) or \(3, b\); got \(4, 2\)"):
        op.matmat(np.ones((4, 2)))
    with pytest.raises(ValueError, match="rmatmat"):
        op.rmatmat(np.ones((3, 1)))
    with pytest.raises(TypeError, match="cannot make an operator"):
        as_operator("matrix")
    with pytest.raises(ValueError, match="positive shape"):
        sl.Operator((0, 3), None, None)


def test_user_operator_in_torch():
    M = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    op = sl.Operator(M.shape, lambda X: M @ X, lambda Y: M.T @ Y, dtype=torch.float64)
    res = sl.svd(op, 2, method="krylov")
    assert isinstance(res.S, torch.Tensor)
    np.testing.assert_allclose(res.S.numpy(), torch.linalg.svdvals(M)[:2].numpy(), rtol=1e-10)
    assert res.n_matvec == op.n_matvec > 0

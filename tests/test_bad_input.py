"""Every bad input gets a ValueError that says what is wrong and what to do."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import svdlens as sl

GOOD = np.array([[2.0, 1.0], [1.0, 3.0]])


@pytest.mark.parametrize(
    "A, match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), r"1 NaN and 0 Inf .*row 0, column 1.*remove or impute"),
        (np.array([[1.0, 0.0], [np.inf, 1.0]]), r"0 NaN and 1 Inf .*row 1, column 0"),
        (torch.tensor([[1.0, float("nan")]]), r"NaN"),
        (sp.csr_array(np.array([[1.0, np.nan]])), r"NaN"),
        (np.zeros((0, 3)), r"empty \(shape \(0, 3\)\)"),
        (np.zeros((3, 0)), r"empty"),
        (torch.zeros(0, 2), r"empty"),
        (np.ones(3), r"2-D matrix; got 1 dimension"),
        (np.ones((2, 2, 2)), r"2-D matrix; got 3 dimension.*reshape"),
        (np.float64(3.0), r"2-D matrix; got 0 dimension"),
        (np.array([["a", "b"], ["c", "d"]]), r"must hold numbers; got dtype <U1"),
        (np.array([[1, None]], dtype=object), r"must hold numbers"),
        ([[1, 2], [3]], r"could not be read as a matrix"),
        (np.ones((2, 2), dtype=complex), r"complex"),
        (torch.ones(2, 2, dtype=torch.complex64), r"complex"),
    ],
)
def test_bad_matrices(A, match):
    with pytest.raises(ValueError, match=match):
        sl.svd(A)


@pytest.mark.parametrize("k", [0, -1])
def test_k_not_positive(k):
    with pytest.raises(ValueError, match="k must be at least 1"):
        sl.svd(GOOD, k)


def test_k_too_large():
    with pytest.raises(ValueError, match=r"k=3 is more than min\(m, n\) = 2"):
        sl.svd(GOOD, 3)


@pytest.mark.parametrize("k", [1.5, "2", True])
def test_k_not_integer(k):
    with pytest.raises(ValueError, match="whole number"):
        sl.svd(GOOD, k)


def test_unknown_method_and_options():
    with pytest.raises(ValueError, match="unknown method 'qr'"):
        sl.svd(GOOD, method="qr")
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['block_size'\]"):
        sl.svd(GOOD, 1, method="power", block_size=2)
    with pytest.raises(ValueError, match="tol must be a positive number"):
        sl.svd(GOOD, tol=-1)
    with pytest.raises(ValueError, match="max_iter must be a positive"):
        sl.svd(GOOD, 1, method="krylov", max_iter=0)


def test_iterative_methods_need_k():
    with pytest.raises(ValueError, match="needs k"):
        sl.svd(GOOD, method="krylov")


def test_operator_returning_nan_is_caught():
    op = sl.Operator((5, 4), lambda X: np.full((5, X.shape[1]), np.nan), lambda Y: np.full((4, Y.shape[1]), np.nan))
    with pytest.raises(ValueError, match="NaN or Inf in a product"):
        sl.svd(op, 2, method="krylov")


def test_integers_and_bools_are_numbers():
    assert sl.svd(np.array([[2, 1], [1, 3]])).S.dtype == np.float64
    assert sl.svd(np.eye(2, dtype=bool)).S.tolist() == [1.0, 1.0]
    assert sl.svd(torch.tensor([[2, 1], [1, 3]])).S.dtype == torch.get_default_dtype()


@pytest.mark.parametrize("method", ["power", "subspace", "krylov", "eig", "exact"])
def test_nan_operator_every_method(method):
    op = sl.Operator((5, 4), lambda X: np.full((5, X.shape[1]), np.nan), lambda Y: np.full((4, Y.shape[1]), np.nan))
    with pytest.raises(ValueError, match="NaN or Inf in a product"):
        sl.svd(op, 2, method=method)

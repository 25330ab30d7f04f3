"""The numbers from the seeds: the script, and the blog post on covariance."""

import numpy as np

import svdlens as sl
from svdlens.linalg import parse_matrix, parse_vector


def test_projection_is_a_dot_product():
    # "0.4 * 2 + 0.2 * 1 = 1": the first output is the first row dotted with the input.
    W = parse_matrix("0.4 0.2; 1 3")
    x = parse_vector("2 1")
    assert W[0] @ x == 0.4 * 2 + 0.2 * 1
    np.testing.assert_allclose(W @ x, [1.0, 5.0])


def test_change_of_basis_from_the_blog_post():
    A = np.array([[2.0, -1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(A @ np.array([-1.0, 2.0]), [-4.0, 1.0])
    # ... as a combination of the new basis vectors (the columns of A).
    np.testing.assert_array_equal(-1 * A[:, 0] + 2 * A[:, 1], [-4.0, 1.0])


def test_top_eigenvector_maximises_the_quadratic_form():
    S = np.array([[0.5, 2.0], [2.0, 1.1]])
    res = sl.svd(S, method="eig")  # symmetric: singular vectors of S are its eigenvectors
    w_top = res.Vt[0]
    theta = np.linspace(0, 2 * np.pi, 20001)
    W = np.stack([np.cos(theta), np.sin(theta)])
    q = np.einsum("it,ij,jt->t", W, S, W)
    assert w_top @ S @ w_top >= q.max() - 1e-12
    np.testing.assert_allclose(w_top @ S @ w_top, np.linalg.eigvalsh(S).max(), rtol=1e-12)
    # The blog post's w = [0.375, 0.625] (normalised) is not where the form peaks.
    w_blog = np.array([0.375, 0.625]) / np.linalg.norm([0.375, 0.625])
    assert w_blog @ S @ w_blog < q.max() - 0.01
    assert abs(w_top[0] / w_top[1] - 0.375 / 0.625) > 0.1

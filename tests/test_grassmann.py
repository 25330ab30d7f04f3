"""sl.grassmann_distance and sl.projection_distance: norms of the principal angles."""

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles

import svdlens as sl
from svdlens.exceptions import InvalidParameterError


def _random(rng, k, n):
    return rng.standard_normal((k, n))


@pytest.mark.parametrize(("ka", "kb"), [(3, 3), (2, 5), (5, 1), (4, 4)])
def test_matches_scipy_on_subspaces_of_any_size(ka, kb):
    rng = np.random.default_rng(ka * 10 + kb)
    A, B = _random(rng, ka, 12), _random(rng, kb, 12)
    theta = subspace_angles(A.T, B.T)
    assert sl.grassmann_distance(A, B) == pytest.approx(np.linalg.norm(theta), abs=1e-6)
    assert sl.projection_distance(A, B) == pytest.approx(np.linalg.norm(np.sin(theta)), abs=1e-6)


def test_projection_distance_is_the_projector_difference_for_equal_dimensions():
    rng = np.random.default_rng(1)
    A, B = _random(rng, 3, 9), _random(rng, 3, 9)

    def projector(X):
        Q, _ = np.linalg.qr(X.T)
        return Q @ Q.T

    expected = np.linalg.norm(projector(A) - projector(B)) / np.sqrt(2)
    assert sl.projection_distance(A, B) == pytest.approx(expected, abs=1e-10)
    assert sl.projection_distance(A, B) <= sl.grassmann_distance(A, B)


@pytest.mark.parametrize("angle", [1e-4, 0.3, 1.0, np.pi / 2])
def test_known_rotation(angle):
    # The plane (e1, e2) against the same plane with e2 turned towards e3 by `angle`: one angle.
    A = np.eye(4)[:2]
    B = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, np.cos(angle), np.sin(angle), 0.0]])
    assert sl.grassmann_distance(A, B) == pytest.approx(angle, rel=1e-8)
    assert sl.projection_distance(A, B) == pytest.approx(np.sin(angle), rel=1e-8)
    # Two planes turned by a and b in orthogonal planes: sqrt(a² + b²).
    C = np.array([[np.cos(0.2), 0.0, np.sin(0.2), 0.0], [0.0, np.cos(angle), 0.0, np.sin(angle)]])
    assert sl.grassmann_distance(A, C) == pytest.approx(np.hypot(0.2, angle), rel=1e-8)


def test_invariant_to_the_basis_chosen_in_each_subspace():
    rng = np.random.default_rng(2)
    A, B = _random(rng, 3, 10), _random(rng, 4, 10)
    d, p = sl.grassmann_distance(A, B), sl.projection_distance(A, B)
    Ma, Mb = rng.standard_normal((3, 3)), rng.standard_normal((4, 4))  # invertible almost surely
    assert sl.grassmann_distance(Ma @ A, Mb @ B) == pytest.approx(d, abs=1e-9)
    assert sl.projection_distance(Ma @ A, Mb @ B) == pytest.approx(p, abs=1e-9)
    assert sl.grassmann_distance(B, A) == pytest.approx(d, abs=1e-12)  # symmetric
    assert sl.grassmann_distance(A, 5 * A[::-1]) == pytest.approx(0.0, abs=1e-7)


def test_a_subspace_inside_another_is_at_distance_zero():
    rng = np.random.default_rng(3)
    B = _random(rng, 4, 8)
    A = rng.standard_normal((2, 4)) @ B
    assert sl.grassmann_distance(A, B) == pytest.approx(0.0, abs=1e-7)


def test_rows_of_any_shape_and_torch_tensors():
    rng = np.random.default_rng(4)
    A, B = _random(rng, 2, 24), _random(rng, 3, 24)
    d = sl.grassmann_distance(A, B)
    assert sl.grassmann_distance(torch.from_numpy(A).reshape(2, 2, 3, 4), B.reshape(3, 1, 24)) == pytest.approx(d)
    assert sl.grassmann_distance(torch.from_numpy(A).float(), B) == pytest.approx(d, abs=1e-5)
    assert sl.linalg.grassmann_distance is sl.grassmann_distance
    assert sl.linalg.projection_distance is sl.projection_distance


@pytest.mark.parametrize("distance", [sl.grassmann_distance, sl.projection_distance])
def test_bad_input(distance):
    with pytest.raises(InvalidParameterError, match="same size"):
        distance(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(InvalidParameterError, match="NaN or Inf"):
        distance(np.array([[np.nan, 1.0]]), np.ones((1, 2)))
    with pytest.raises(InvalidParameterError, match="at least one direction"):
        distance(np.ones((0, 3)), np.ones((1, 3)))

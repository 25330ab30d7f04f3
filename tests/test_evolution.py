"""Basis evolution over t (Park et al. 2023, §5): distances against scipy, spectra, homogeneity, warm starts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

import svdlens as sl
from svdlens.diffusion._evolution import check_ts, evolution_of, radial_spectrum
from svdlens.exceptions import InvalidParameterError
from svdlens.nets import LocalBasis


def _basis(v: np.ndarray) -> LocalBasis:
    k = len(v)
    return LocalBasis(
        u=torch.zeros(k, 1), s=torch.ones(k), v=torch.from_numpy(v), residuals=torch.zeros(k), n_jvp=3, n_vjp=4,
        converged=True,
    )  # fmt: skip


def _orthonormal(rng, k, shape):
    q = np.linalg.qr(rng.standard_normal((int(np.prod(shape)), k)))[0]
    return q.T.reshape(k, *shape)


def test_distances_agree_with_scipy_and_homogeneity_is_one_for_equal_bases():
    rng = np.random.default_rng(0)
    shape = (1, 1, 8, 8)
    a, b, c = (_orthonormal(rng, 3, shape) for _ in range(3))
    ev = evolution_of([[_basis(a), _basis(b)], [_basis(a), _basis(c)]], [0.8, 0.4], warm=False)
    theta = scipy.linalg.subspace_angles(a.reshape(3, -1).T, b.reshape(3, -1).T)
    assert ev.across_t[0, 0, 1] == pytest.approx(np.linalg.norm(theta), abs=1e-6)
    assert ev.across_t_projection[0, 0, 1] == pytest.approx(np.linalg.norm(np.sin(theta)), abs=1e-6)
    assert ev.across_images[0, 0, 1] == pytest.approx(0, abs=1e-6)  # both images have basis a at t = 0.8
    assert ev.homogeneity[0] == pytest.approx(1, abs=1e-6) and ev.homogeneity[1] < 1
    np.testing.assert_allclose(np.sort(ev.angles(0, 0, 1)), np.sort(theta), atol=1e-6)
    assert ev.products.tolist() == [[7, 7], [7, 7]]


def test_the_radial_spectrum_finds_a_frequency_and_sums_to_one():
    x = np.arange(16)
    coarse = np.cos(2 * np.pi * 0.0625 * x)[None, :] * np.ones((16, 1))
    fine = np.cos(2 * np.pi * 0.375 * x)[:, None] * np.ones((1, 16))
    freq, power = radial_spectrum(np.stack([coarse, fine])[:, None])
    assert freq[power.argmax(axis=1)].tolist() == [0.0625, 0.375]
    np.testing.assert_allclose(power.sum(axis=1), 1)
    with pytest.raises(InvalidParameterError, match="must be"):
        radial_spectrum(np.zeros((3, 4)))


@pytest.mark.parametrize("ts", [[0.5], [0.5, 0.5], [0.0, 0.5], [1.5, 0.2], ["a", 0.2], list(np.linspace(0.1, 1, 40))])
def test_bad_t_grids_are_refused(ts):
    with pytest.raises(InvalidParameterError, match="ts must be"):
        check_ts(ts)


def test_basis_evolution_on_a_tiny_model_warm_and_cold(tmp_path):
    from tiny_pipelines import tiny_ddim

    pipe = sl.diffusion.load(tiny_ddim(tmp_path / "ddim"))
    images = np.random.default_rng(1).random((2, 3, 16, 16)).astype(np.float32)
    ts = (0.3, 0.5, 0.7)
    warm = pipe.basis_evolution(images, ts, k=2, steps=10, tol=1e-4)
    cold = pipe.basis_evolution(images, ts, k=2, steps=10, tol=1e-4, warm=False)
    assert warm.ts.tolist() == [0.7, 0.5, 0.3] and warm.across_t.shape == (2, 3, 3)
    assert warm.across_images.shape == (3, 2, 2) and warm.frequency.shape[0] == 3
    for w_row, c_row in zip(warm.bases, cold.bases):  # the same answer, warm or cold
        for w, c in zip(w_row, c_row):
            assert w.converged and c.converged
            torch.testing.assert_close(w.s, c.s, rtol=1e-3, atol=1e-5)
            assert sl.grassmann_distance(w.v, c.v) < 1e-2
    assert warm.products[:, 0].tolist() == cold.products[:, 0].tolist()  # the first t starts cold in both
    one = pipe.basis_evolution(images[0], (0.4, 0.6), k=2, steps=10)
    assert len(one.bases) == 1 and np.isnan(one.homogeneity).all()


def test_the_evolution_draws_itself_without_recomputing():
    from matplotlib.figure import Figure

    rng = np.random.default_rng(3)
    rows = [[_basis(_orthonormal(rng, 2, (1, 1, 8, 8))) for _ in range(3)] for _ in range(2)]
    ev = evolution_of(rows, [0.9, 0.5, 0.1], warm=True)
    assert isinstance(ev.plot(), Figure) and isinstance(ev.plot("spectra"), Figure)
    with pytest.raises(InvalidParameterError, match="kind"):
        ev.plot("nope")


def test_prompt_comparison_distances_are_the_grassmann_distances_of_its_bases():
    from matplotlib.figure import Figure

    from svdlens.diffusion import PromptComparison

    rng = np.random.default_rng(5)
    bases = [_basis(_orthonormal(rng, 3, (1, 1, 8, 8))) for _ in range(3)]
    bases[2] = _basis(bases[0].v.numpy()[[2, 0, 1]])  # the first prompt's subspace, in another order
    angles = np.stack([np.stack([sl.linalg.principal_angles(a.v, b.v) for b in bases]) for a in bases])
    cmp = PromptComparison(["a", "b", "a again"], bases, angles, angles)
    for i in range(3):
        for j in range(3):
            assert cmp.distances[i, j] == pytest.approx(sl.grassmann_distance(bases[i].v, bases[j].v), abs=1e-6)
    np.testing.assert_allclose(cmp.distances, cmp.distances.T, atol=1e-12)
    assert cmp.distances[0, 2] == pytest.approx(0, abs=1e-6) and cmp.distances[0, 1] > 0.5
    assert isinstance(cmp.plot(), Figure)


def test_compare_models_measures_within_and_across_models(tmp_path):
    from matplotlib.figure import Figure

    from svdlens.diffusion import compare_models
    from svdlens.diffusion._compare import resampled
    from tiny_pipelines import tiny_ddim

    a, b = str(tiny_ddim(tmp_path / "a", seed=0)), str(tiny_ddim(tmp_path / "b", seed=1))
    with pytest.warns(sl.exceptions.InputNote):  # the 25×25 gray start faces become 16×16 colour
        c = compare_models([a, b], ts=(0.4, 0.8), k=2, images=2, steps=6, tol=1e-3)
    assert c.ts.tolist() == [0.8, 0.4] and c.size == (16, 16) and c.distances.shape == (2, 2, 2)
    for j in range(2):
        for m, e in enumerate(c.evolutions):  # within a model: its two images' distance
            assert c.distances[j, m, m] == pytest.approx(e.across_images[j, 0, 1], abs=1e-6)
            assert c.homogeneity[m, j] == e.homogeneity[j]
        oracle = np.mean(
            [
                np.linalg.norm(
                    scipy.linalg.subspace_angles(x.v.reshape(2, -1).T.double(), y.v.reshape(2, -1).T.double())
                )
                for x in (row[j] for row in c.evolutions[0].bases)
                for y in (row[j] for row in c.evolutions[1].bases)
            ]
        )
        assert c.distances[j, 0, 1] == pytest.approx(oracle, abs=1e-6) and c.distances[j, 1, 0] == c.distances[j, 0, 1]
    assert np.all((c.mean_frequency > 0) & (c.mean_frequency < 0.5))
    assert isinstance(c.plot(), Figure)
    # resampling keeps a coarse pattern where it was: a cosine of 2 cycles per image stays one
    x = torch.cos(2 * torch.pi * 2 * torch.arange(32) / 32).repeat(32, 1)[None, None]
    freq, power = radial_spectrum(resampled(x, (16, 16)))
    assert freq[power[0].argmax()] == pytest.approx(2 / 16)
    for models, images, match in [([a], 2, "2 to 6 models"), ([a, a], 2, "named twice"), ([a, b], 0, "images")]:
        with pytest.raises(InvalidParameterError, match=match):
            compare_models(models, ts=(0.4, 0.8), k=2, images=images, steps=6)

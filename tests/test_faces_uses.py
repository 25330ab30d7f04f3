"""The uses of eigenfaces, and their figures."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

import svdlens as sl
from svdlens.faces import _figures as figures
from svdlens.faces import (
    compression_curve,
    detect_faces,
    interpolate,
    nearest_face,
    sample_faces,
    solve_puzzle,
)

FACES = sl.faces.builtin()
EF = sl.Eigenfaces(20).fit(FACES)


def test_puzzle_is_the_reconstruction():
    p = solve_puzzle(EF, FACES[7])
    np.testing.assert_allclose(p.coefficients, EF.transform(FACES[7])[0])
    np.testing.assert_allclose(p.reconstruction, EF.reconstruct(FACES[7])[0], atol=1e-12)
    assert p.steps.shape == (20, 25, 25)
    assert np.all(np.diff(p.errors) <= 1e-12)  # each piece can only help (orthogonal pieces)
    assert "face = mean face + Σ cᵢ·eigenfaceᵢ" in p.text()


def test_recognition_finds_itself_and_refuses_strangers():
    m = nearest_face(EF, FACES[:10], FACES)
    np.testing.assert_array_equal(m.index, np.arange(10))
    np.testing.assert_allclose(m.distance, 0, atol=1e-9)
    strangers = sl.faces.builtin("nonfaces")[:5]
    typical = nearest_face(EF, FACES[50:60], FACES[:50]).distance
    m2 = nearest_face(EF, strangers, FACES[:50], threshold=float(typical.min()) / 10)
    assert np.all(m2.index == -1)


def test_interpolation_ends_at_the_two_faces():
    path = interpolate(EF, FACES[0], FACES[1], n=5)
    np.testing.assert_allclose(path[0], EF.reconstruct(FACES[0])[0], atol=1e-12)
    np.testing.assert_allclose(path[-1], EF.reconstruct(FACES[1])[0], atol=1e-12)
    np.testing.assert_allclose(path[2], (path[0] + path[-1]) / 2, atol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        interpolate(EF, FACES[0], FACES[1], n=1)


def test_samples_have_the_model_variance():
    S = sample_faces(EF, n=4000, seed=1)
    C = (S.reshape(4000, -1) - EF.mean_) @ EF.components_.T
    np.testing.assert_allclose(C.var(axis=0), EF.explained_variance_, rtol=0.1)


def test_compression_curve():
    c = compression_curve(EF, FACES)
    assert np.all(np.diff(c.error) < 0) and np.all(np.diff(c.ratio) < 0)
    full = sl.Eigenfaces(None).fit(FACES)
    assert compression_curve(full, FACES, ks=[100]).error[0] == pytest.approx(0, abs=1e-12)
    # Relative error² = unexplained variance share.
    assert c.error[-1] ** 2 == pytest.approx(1 - EF.explained_variance_ratio_.sum(), rel=1e-10)


def test_figures_show_what_they_say():
    fig = figures.eigenface_gallery(EF, n=7)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 8
    for ax in panels[1:]:  # eigenfaces: diverging map, symmetric range
        lo, hi = ax.images[0].get_clim()
        assert lo == pytest.approx(-hi) and ax.images[0].get_cmap().name == "RdBu_r"
    det = detect_faces(sl.Eigenfaces().fit(FACES[:60]), FACES[60:], sl.faces.builtin("nonfaces"))
    hist = figures.distance_histogram(det)
    assert f"{det.auc:.3f}" in hist.axes[0].get_title()
    recon = {1: EF.reconstruct(FACES[0], 1)[0], 20: EF.reconstruct(FACES[0])[0]}
    anim = figures.reconstruction_animation(FACES[0], recon)
    assert len(list(anim.new_frame_seq())) == 3  # one frame per k, then the original
    anim._draw_was_started = True  # checked, not rendered: tell matplotlib this is intended
    plt.close(anim._fig)
    bars = figures.puzzle_bars(solve_puzzle(EF, FACES[0]))
    assert len(bars.axes[-1].patches) == 20

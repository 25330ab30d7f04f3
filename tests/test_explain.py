"""The explain scenes: numbers checked exactly, figures and animations checked for what they show."""

import numpy as np
import pytest
from PIL import Image

import svdlens as sl
from svdlens.scenes import SCENES
from svdlens.scenes import _scenes as S

A = np.array([[0.4, 0.2], [1.0, 3.0]])


def test_projection_is_the_scripts_dot_product():
    sc = S.projection(A, [2, 1])
    assert sc.y[0] == pytest.approx(1.0) and "y1 = 0.4·2 + 0.2·1 = 1" in sc.text()
    np.testing.assert_allclose(sc.terms.sum(1), A @ [2, 1])


def test_dot_products_cases():
    c = S.dot_products(2, 1.5).cases
    assert (c["parallel"]["dot"], c["orthogonal"]["dot"], c["antiparallel"]["dot"]) == (3.0, 0.0, -3.0)


def test_change_of_basis_from_the_blog():
    sc = S.change_of_basis()
    np.testing.assert_array_equal(sc.point, [-4, 1])


def test_inputs_with_inputs_entry_is_a_dot_product_of_columns():
    sc = S.inputs_with_inputs(A)
    assert sc.value == pytest.approx(A[:, 0] @ A[:, 1]) == pytest.approx(sc.WtW[0, 1])
    np.testing.assert_allclose(sc.WWt, A @ A.T)


def test_eigenvectors_do_not_turn():
    sc = S.eigenvectors(A)
    G, vecs, lam = sc.G, sc.eigenvectors, sc.eigenvalues
    np.testing.assert_allclose(G @ vecs, vecs * lam, atol=1e-12)
    assert np.abs(sc.turn_degrees).max() > 1  # other vectors do turn


def test_rotate_scale_rotate_ends_at_A():
    sc = S.rotate_scale_rotate(A)
    final = sc.stages[-1]
    np.testing.assert_allclose(final[1], sc.direct[0], atol=1e-12)
    np.testing.assert_allclose(final[2], A, atol=1e-12)


def test_u_from_v_chain():
    sc = S.u_from_v(A)
    U, Sv, Vt = sc.U, sc.S, sc.Vt
    np.testing.assert_allclose(A @ Vt.T, U * Sv, atol=1e-12)
    assert sc.chain_residuals.max() < 1e-12


def test_max_variance_corrects_the_blog():
    sc = S.max_variance()
    top, lam = sc.top, sc.eigenvalues[0]
    assert top @ S.BLOG_COVARIANCE @ top == pytest.approx(lam)
    assert sc.quadratic_form.max() == pytest.approx(lam, rel=1e-5)
    assert sc.blog_value < lam - 0.05
    assert "not a covariance matrix" in sc.text() and "The blog post says" in sc.text()


def test_least_squares_error_is_perpendicular():
    sc = S.least_squares()
    np.testing.assert_allclose(sc.A.T @ sc.e, 0, atol=1e-12)
    np.testing.assert_allclose(sc.xhat, [5, -3])  # Strang's example


def test_low_rank_errors_are_the_next_singular_values():
    M = np.random.default_rng(0).standard_normal((4, 3))
    sc = S.low_rank(M)
    s = np.linalg.svd(M, compute_uv=False)
    np.testing.assert_allclose(sc.spectral, [s[1], s[2], 0], atol=1e-12)
    np.testing.assert_allclose(sc.frobenius[0], np.sqrt(s[1] ** 2 + s[2] ** 2))


def test_low_rank_picture_error_against_k_is_eckart_young():
    img = np.random.default_rng(1).random((12, 9))
    sc = S.low_rank_picture(img, ks=(1, 3, 9, 40))
    assert sc.ks == [1, 3, 9]  # k beyond the rank is dropped
    s = np.linalg.svd(img, compute_uv=False)
    for k, Ak in zip(sc.ks, sc.approximations):
        assert np.linalg.matrix_rank(Ak) == k
        err = np.linalg.norm(img - Ak) / np.linalg.norm(img)
        assert err == pytest.approx(np.sqrt((s[k:] ** 2).sum() / (s**2).sum()), abs=1e-12)
        assert sc.relative_error[k - 1] == pytest.approx(err, abs=1e-12)
    assert sc.relative_error[-1] == pytest.approx(0, abs=1e-12)
    with pytest.raises(sl.SvdlensError, match="picture"):
        S.low_rank_picture(np.ones(5))


def test_superposition_interference():
    assert S.superposition(2).interference == pytest.approx(0, abs=1e-12)
    five = S.superposition(5)
    assert five.interference == pytest.approx(np.cos(np.pi / 5))
    np.testing.assert_allclose(np.diag(five.G), 1)


def test_explain_text_and_shapes():
    ex = sl.explain(A, vector=[2, 1])
    assert [s.name for s in ex.scenes] == list(SCENES)
    assert "0.4·2 + 0.2·1 = 1" in ex.text()
    wide = sl.explain(np.arange(6.0).reshape(2, 3))
    assert "geometric scenes are drawn for 2 or 3 dimensions" in wide.text()
    with pytest.raises(ValueError, match="the vector has 3 entries but A has 2 columns"):
        sl.explain(A, vector=[1, 2, 3])
    with pytest.raises(ValueError, match="unknown scene"):
        sl.explain(A, only=["magic"])
    with pytest.raises(ValueError, match="NaN"):
        sl.explain([[1, np.nan], [0, 1]])


def test_save_writes_figures_and_animations(tmp_path):
    ex = sl.explain(A, only=["projection", "rotate_scale_rotate", "inputs_with_inputs"])
    paths = ex.save(tmp_path)
    names = sorted(p.name for p in paths if not p.name.endswith(".mp4"))
    assert names == [
        "01-projection.png",
        "02-inputs_with_inputs.png",
        "03-rotate_scale_rotate.gif",
        "03-rotate_scale_rotate.png",
        "explanation.md",
    ]
    assert all(p.exists() for p in paths)
    with Image.open(tmp_path / "03-rotate_scale_rotate.gif") as gif:
        assert gif.n_frames == 24  # 3 steps × 8 frames
    md = (tmp_path / "explanation.md").read_text()
    assert "![Projection: outputs are dot products](01-projection.png)" in md and "0.4·1 + 0.2·1" in md


def test_html_walkthrough_is_offline(tmp_path):
    import re

    sl.explain(A, only=["projection", "low_rank"]).save(tmp_path, format="html")
    html = (tmp_path / "explanation.html").read_text()
    srcs = re.findall(r"src='([^']+)'", html)
    assert srcs and all((tmp_path / s).exists() for s in srcs)
    assert "http" not in html
    with pytest.raises(ValueError, match="format must be 'md' or 'html'"):
        sl.explain(A, only=["low_rank"]).save(tmp_path, format="pdf")


@pytest.mark.parametrize("shape", [(3, 2), (2, 3)])
def test_three_by_two_and_two_by_three_are_drawn_in_3d(tmp_path, shape):
    M = np.arange(1.0, 7.0).reshape(shape) + np.eye(*shape)
    ex = sl.explain(M)
    sc = ex["rotate_scale_rotate"]
    np.testing.assert_allclose(sc.stages[-1][1], sc.direct[0], atol=1e-12)
    np.testing.assert_allclose(sc.picture_stages[-1], sc.picture_direct, atol=1e-12)
    paths = {p.name for p in ex.save(tmp_path)}
    assert {"06-rotate_scale_rotate.png", "07-u_from_v.png"} <= paths
    from svdlens.scenes import SCENES

    fig = SCENES["rotate_scale_rotate"].draw(sc)
    assert sum(ax.name == "3d" for ax in fig.axes) == 2  # the 3-D step and its picture


def test_larger_matrices_get_numbers_and_heatmaps_only(tmp_path):
    ex = sl.explain(np.arange(16.0).reshape(4, 4))
    names = {p.name for p in ex.save(tmp_path)}
    assert "04-inputs_with_inputs.png" in names and not any("rotate" in n or "projection" in n for n in names)
    assert "larger matrices get the numbers and heatmaps only" in ex.text()


def test_picture_final_position_equals_A():
    sc = S.rotate_scale_rotate(A, picture=np.random.default_rng(0).random((6, 5)))
    np.testing.assert_allclose(sc.picture_stages[-1], sc.picture_direct, atol=1e-12)


def test_last_panel_is_A_applied_directly():
    """The 'after U' panel, drawn by svdlens, against the same panel drawn from A x directly, pixel for pixel."""
    from svdlens._plotting import new_figure
    from svdlens.scenes._figures import COLORS, _curve, _space, _vec

    sc = S.rotate_scale_rotate(A)
    label, X, Eb = sc.stages[-1]
    direct_X, direct_E = sc.direct
    lim = 1.15 * max(float(np.abs(st[1]).max()) for st in sc.stages)
    pictures = []
    for pts, basis in ((X, Eb), (direct_X, direct_E)):
        fig = new_figure(figsize=(4, 4))
        ax = _space(fig, (1, 1, 1), 2, lim, label)
        _curve(ax, pts, COLORS["output"])
        _vec(ax, basis[:, 0], COLORS["singular"], "e₁")
        _vec(ax, basis[:, 1], COLORS["other"], "e₂")
        pictures.append(_pixels(fig))
    np.testing.assert_array_equal(pictures[0], pictures[1])


def _pixels(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba(), dtype=float)


def test_animation_last_frame_equals_A_directly_in_pixels():
    import matplotlib.pyplot as plt

    from svdlens.scenes._figures import rotate_scale_rotate_animation

    sc = S.rotate_scale_rotate(A)
    anim = rotate_scale_rotate_animation(sc)
    n_frames = len(list(anim.new_frame_seq()))
    assert n_frames == 24
    np.testing.assert_allclose(anim.final_points, sc.direct[0], atol=1e-12)
    _pixels(anim._fig)  # the first draw starts the animation (it draws frame 0); then pick the last frame
    anim._func(n_frames - 1)
    assert anim._fig.axes[0].get_title() == "after U (rotate): A x"
    last = _pixels(anim._fig)
    # Redraw the same frame with the points and basis vectors of A applied directly.
    curve, e1, e2 = anim.artists
    X, Eb = sc.direct
    curve.set_data(X[0], X[1])
    e1.set_data([0, Eb[0, 0]], [0, Eb[1, 0]])
    e2.set_data([0, Eb[0, 1]], [0, Eb[1, 1]])
    direct = _pixels(anim._fig)
    assert np.abs(last - direct).max() <= 1  # within a pixel's rounding
    anim._draw_was_started = True
    plt.close(anim._fig)


@pytest.mark.skipif(__import__("shutil").which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_mp4_when_ffmpeg_is_present(tmp_path):  # pragma: no cover - needs ffmpeg
    paths = sl.explain(A, only=["rotate_scale_rotate"]).save(tmp_path)
    assert any(p.suffix == ".mp4" and p.stat().st_size > 0 for p in paths)

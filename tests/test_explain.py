"""The explain scenes: numbers checked exactly, figures and animations checked for what they show."""

import numpy as np
import pytest
from PIL import Image

import svdlens.explain as E
from svdlens.explain import scenes as S

A = np.array([[0.4, 0.2], [1.0, 3.0]])


def test_projection_is_the_scripts_dot_product():
    sc = S.projection(A, [2, 1])
    assert sc.numbers["y"][0] == pytest.approx(1.0) and "y1 = 0.4·2 + 0.2·1 = 1" in sc.text()
    np.testing.assert_allclose(sc.numbers["terms"].sum(1), A @ [2, 1])


def test_dot_products_cases():
    c = S.dot_products(2, 1.5).numbers["cases"]
    assert (c["parallel"]["dot"], c["orthogonal"]["dot"], c["antiparallel"]["dot"]) == (3.0, 0.0, -3.0)


def test_change_of_basis_from_the_blog():
    sc = S.change_of_basis()
    np.testing.assert_array_equal(sc.numbers["point"], [-4, 1])


def test_inputs_with_inputs_entry_is_a_dot_product_of_columns():
    sc = S.inputs_with_inputs(A)
    assert sc.numbers["value"] == pytest.approx(A[:, 0] @ A[:, 1]) == pytest.approx(sc.numbers["WtW"][0, 1])
    np.testing.assert_allclose(sc.numbers["WWt"], A @ A.T)


def test_eigenvectors_do_not_turn():
    sc = S.eigenvectors(A)
    G, vecs, lam = sc.numbers["G"], sc.numbers["eigenvectors"], sc.numbers["eigenvalues"]
    np.testing.assert_allclose(G @ vecs, vecs * lam, atol=1e-12)
    assert np.abs(sc.numbers["turn_degrees"]).max() > 1  # other vectors do turn


def test_rotate_scale_rotate_ends_at_A():
    sc = S.rotate_scale_rotate(A)
    final = sc.numbers["steps"][-1]
    np.testing.assert_allclose(final[1], sc.numbers["direct"][0], atol=1e-12)
    np.testing.assert_allclose(final[2], A, atol=1e-12)


def test_u_from_v_chain():
    sc = S.u_from_v(A)
    U, Sv, Vt = sc.numbers["U"], sc.numbers["S"], sc.numbers["Vt"]
    np.testing.assert_allclose(A @ Vt.T, U * Sv, atol=1e-12)
    assert sc.numbers["chain_residuals"].max() < 1e-12


def test_max_variance_corrects_the_blog():
    sc = S.max_variance()
    top, lam = sc.numbers["top"], sc.numbers["eigenvalues"][0]
    assert top @ S.BLOG_COVARIANCE @ top == pytest.approx(lam)
    assert sc.numbers["quadratic_form"].max() == pytest.approx(lam, rel=1e-5)
    assert sc.numbers["blog_value"] < lam - 0.05
    assert "not a covariance matrix" in sc.text() and "The blog post says" in sc.text()


def test_least_squares_error_is_perpendicular():
    sc = S.least_squares()
    np.testing.assert_allclose(sc.numbers["A"].T @ sc.numbers["e"], 0, atol=1e-12)
    np.testing.assert_allclose(sc.numbers["xhat"], [5, -3])  # Strang's example


def test_low_rank_errors_are_the_next_singular_values():
    M = np.random.default_rng(0).standard_normal((4, 3))
    sc = S.low_rank(M)
    s = np.linalg.svd(M, compute_uv=False)
    np.testing.assert_allclose(sc.numbers["spectral"], [s[1], s[2], 0], atol=1e-12)
    np.testing.assert_allclose(sc.numbers["frobenius"][0], np.sqrt(s[1] ** 2 + s[2] ** 2))


def test_superposition_interference():
    assert S.superposition(2).numbers["interference"] == pytest.approx(0, abs=1e-12)
    five = S.superposition(5)
    assert five.numbers["interference"] == pytest.approx(np.cos(np.pi / 5))
    np.testing.assert_allclose(np.diag(five.numbers["G"]), 1)


def test_explain_text_and_shapes():
    ex = E.explain(A, vector=[2, 1])
    assert [s.name for s in ex.scenes] == list(E.SCENES)
    assert "0.4·2 + 0.2·1 = 1" in ex.text()
    wide = E.explain(np.arange(6.0).reshape(2, 3))
    assert "geometric scenes draw 2 input dimensions" in wide.text()
    with pytest.raises(ValueError, match="the vector has 3 entries but A has 2 columns"):
        E.explain(A, vector=[1, 2, 3])
    with pytest.raises(ValueError, match="unknown scene"):
        E.explain(A, only=["magic"])
    with pytest.raises(ValueError, match="NaN"):
        E.explain([[1, np.nan], [0, 1]])


def test_save_writes_figures_and_animations(tmp_path):
    ex = E.explain(A, only=["projection", "rotate_scale_rotate", "inputs_with_inputs"])
    paths = ex.save(tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["01-projection.png", "02-inputs_with_inputs.png", "03-rotate_scale_rotate.gif",
                     "03-rotate_scale_rotate.png", "explanation.md"]
    assert all(p.exists() for p in paths)
    with Image.open(tmp_path / "03-rotate_scale_rotate.gif") as gif:
        assert gif.n_frames == 24  # 3 steps × 8 frames


def test_animation_last_frame_equals_A_directly():
    from svdlens.explain.figures import rotate_scale_rotate_animation

    sc = S.rotate_scale_rotate(A)
    anim = rotate_scale_rotate_animation(sc)
    np.testing.assert_allclose(anim.final_points, sc.numbers["direct"][0], atol=1e-12)
    anim._draw_was_started = True  # not rendered here: no warning on deletion

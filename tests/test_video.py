"""The Manim video scenes: each renders to an MP4 of the promised size, rate and length, shows the
library's numbers, and the render is whole or nothing.

Skipped, with the reason, where the video extra (Manim) is not installed.
"""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

pytest.importorskip("manim", reason='the video extra is not installed: pip install "svdlens[video]"')
av = pytest.importorskip("av", reason="PyAV (installed with Manim) reads the MP4s back")

import svdlens as sl  # noqa: E402
import svdlens.exceptions as sv_exceptions  # noqa: E402
import svdlens.video as sv  # noqa: E402
from svdlens._threads import one_torch_thread  # noqa: E402
from svdlens.video._check import NOISE, matrix_svd  # noqa: E402
from svdlens.video._diffusion import builtin_pipeline  # noqa: E402
from svdlens.video._puzzle import face_pixels  # noqa: E402
from svdlens.video._u_from_v import RANK_TOL  # noqa: E402

# Manim's camera calls Pillow with an argument Pillow deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:'mode' parameter:DeprecationWarning")

SCRIPT_MATRIX = np.array([[0.4, 0.2], [1.0, 3.0]])
FRAME_W, FRAME_H = 14.0 + 2.0 / 9.0, 8.0  # Manim's frame in scene units (16:9)

matrices = arrays(np.float64, (2, 2), elements=st.floats(-5, 5, allow_nan=False).map(lambda v: round(v, 3)))


# ------------------------------------------------------------------- rendering


# The diffusion scenes take fewer DDIM steps here than their default (the library's 50), to
# keep the file fast; the numbers are checked against the pipeline at the same steps.
FAST = {"jacobian-directions": {"steps": 10}, "generated-image": {"steps": 20}}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every scene rendered once at low quality (480p15), with its scene object."""
    folder = tmp_path_factory.mktemp("video")
    return {name: sv.render_scene(name, folder, "low", **FAST.get(name, {})) for name in sv.SCENES}


def read_video(path):
    """(frames as RGB arrays, frames per second, duration in seconds) of an MP4, read with PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = stream.base_rate
        duration = float(stream.duration * stream.time_base)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames, fps, duration


@pytest.mark.parametrize("name", list(sv.SCENES))
def test_each_scene_renders_a_short_480p15_mp4(rendered, name):
    r = rendered[name]
    assert r.path.name == sv.file_name(name) and r.path.suffix == ".mp4"
    frames, fps, duration = read_video(r.path)
    assert fps == 15
    assert frames[0].shape == (480, 854, 3)
    # every frame Manim drew is in the file, and the file's clock agrees with the count
    assert len(frames) == round(r.scene.renderer.time * 15)
    assert duration == pytest.approx(len(frames) / 15, abs=1.5 / 15)
    assert 3.0 <= duration <= 10.0, "scenes are kept to a few seconds"
    assert frames[-1].std() > 5, "the last frame shows something"


def pixel(scene_point):
    """Pixel (row, column) of a scene point in a 854×480 frame."""
    x, y = scene_point[0], scene_point[1]
    return int(round((FRAME_H / 2 - y) / FRAME_H * 480)), int(round((x + FRAME_W / 2) / FRAME_W * 854))


def test_rotate_scale_rotate_ends_at_A_times_the_start(rendered):
    scene = rendered["rotate-scale-rotate"].scene
    n = scene.numbers
    start, now = n.starting_points(), scene.current_points()
    assert set(now) == set(start) == {"markers", "basis", "grid", "circle", "image"}
    for name in start:
        np.testing.assert_allclose(now[name], start[name] @ SCRIPT_MATRIX.T, atol=1e-9, err_msg=name)

    # The last frame of the MP4: each marked point's dot is drawn where A sends it.
    last = read_video(rendered["rotate-scale-rotate"].path)[0][-1].astype(float)
    colours = [sv._draw.HIGHLIGHT] * len(n.markers) + list(sv._draw.PAIR_COLORS)
    ends = np.vstack([n.markers, n.basis]) @ SCRIPT_MATRIX.T
    centres = [pixel(scene.to_scene(p)) for p in ends]
    checked = 0
    for k, (colour, (row, col)) in enumerate(zip(colours, centres)):
        if min(np.hypot(row - r, col - c) for j, (r, c) in enumerate(centres) if j != k) < 10:
            continue  # two dots overlap here: their colours mix
        want = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], float)
        got = last[row - 1 : row + 2, col - 1 : col + 2].reshape(-1, 3).mean(axis=0)
        assert np.abs(got - want).max() < 30, (k, got, want)
        checked += 1
    assert checked >= 6


def test_puzzle_ends_with_the_eigenfaces_reconstruction(rendered):
    r = rendered["puzzle"]
    n = r.scene.numbers
    faces = sl.faces.builtin()
    ef = sl.Eigenfaces(n_components=n.k).fit(faces)
    expected = ef.reconstruct(faces[n.index : n.index + 1], n.k)[0]
    np.testing.assert_allclose(n.partial[-1], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(n.coefficients, ef.transform(faces[n.index : n.index + 1])[0], atol=1e-12)
    np.testing.assert_array_equal(r.scene.face_mob.pixel_array, face_pixels(n, n.k))

    # The last frame shows that face: sample the centre of each of its pixels.
    last = read_video(r.path)[0][-1].astype(float).mean(axis=2)
    mob = r.scene.face_mob
    h, w = expected.shape
    (x0, y1), (x1, y0) = mob.get_corner(np.array([-1, 1, 0]))[:2], mob.get_corner(np.array([1, -1, 0]))[:2]
    xs = x0 + (np.arange(w) + 0.5) / w * (x1 - x0)
    ys = y1 - (np.arange(h) + 0.5) / h * (y1 - y0)
    shown = np.array([[last[pixel((x, y))] for x in xs] for y in ys])
    want = face_pixels(n, n.k)[..., 0].astype(float)
    assert np.abs(shown - want).mean() < 6
    assert np.corrcoef(shown.ravel(), want.ravel())[0, 1] > 0.98


def test_generated_image_ends_with_the_pipelines_image(rendered):
    r = rendered["generated-image"]
    n = r.scene.numbers
    pipe = builtin_pipeline()
    with one_torch_thread():
        out = pipe.generate(n.noise, t=1.0, steps=n.steps)[0]
    np.testing.assert_allclose(n.final, out, atol=1e-6)
    np.testing.assert_array_equal(r.scene.face_mob.pixel_array, sv._draw.to_rgba(n.final, 0.0, 1.0))
    assert len(n.images) == len(n.timesteps) == n.steps + 1
    assert n.timesteps[0] > n.timesteps[-1] == 0
    # noise first: far from the final image
    assert np.abs(n.images[0] - n.final).mean() > 0.2
    # x̂0 beside x_t: Tweedie's estimate (x − √(1−ᾱ) ε̂)/√ᾱ at each state, the image itself at the end
    assert n.predictions.shape == n.images.shape
    np.testing.assert_array_equal(r.scene.prediction_mob.pixel_array, sv._draw.to_rgba(n.final, 0.0, 1.0))
    s = int(n.timesteps[0])
    a = pipe.alphas[s].to(torch.float32)
    with torch.no_grad(), one_torch_thread():
        eps = pipe.model_output(n.noise, s)
    x0 = (n.noise - (1 - a).sqrt() * eps) / a.sqrt()
    np.testing.assert_allclose(n.predictions[0], pipe.to_images(x0)[0], atol=1e-5)
    # halfway down, the guess is already much nearer the final face than the sample is
    mid = n.steps // 2
    assert np.abs(n.predictions[mid] - n.final).mean() < 0.5 * np.abs(n.images[mid] - n.final).mean()


def test_jacobian_directions_numbers_are_the_pipelines(rendered):
    n = rendered["jacobian-directions"].scene.numbers
    pipe = builtin_pipeline()
    face = sl.faces.world.face(n.index)  # the built-in model is the face world's
    with warnings.catch_warnings(), one_torch_thread():
        warnings.simplefilter("ignore")
        basis = pipe.directions(face, t=n.t, k=3, steps=n.steps)
        plain = pipe.generate(pipe.invert(face, t=n.t, steps=n.steps), t=n.t, steps=n.steps)[0]
    np.testing.assert_allclose(n.sigmas, basis.s.numpy(), rtol=1e-4)
    assert np.all(np.diff(n.sigmas) <= 0) and n.sigmas[-1] > 0
    V = n.directions.reshape(3, -1)
    np.testing.assert_allclose(V @ V.T, np.eye(3), atol=1e-4)
    assert n.edits.shape == (3, len(n.strengths)) + plain.shape
    zero = list(n.strengths).index(0.0)
    for i in range(3):  # γ = 0 is the face itself, inverted and generated again
        np.testing.assert_allclose(n.edits[i, zero], plain, atol=1e-5)
    assert np.abs(n.edits[:, 0] - n.edits[:, -1]).mean() > 1e-3, "the sweep changes the face"
    # each direction is labelled with the face-world factor it moves and its purity
    with one_torch_thread():
        effects = pipe.factor_effects(basis.v, face, t=n.t, steps=n.steps)
    assert n.factors == tuple(effects.factor) and set(n.factors) <= set(sl.faces.world.NAMES)
    np.testing.assert_allclose(n.purities, effects.purity, atol=1e-4)


# ------------------------------------------------------- numbers vs the library


def test_projection_numbers():
    n = sv.projection_numbers()
    assert n.terms[0].tolist() == pytest.approx([0.8, 0.2]) and n.outputs[0] == pytest.approx(1.0)  # 0.4·2 + 0.2·1 = 1
    np.testing.assert_allclose(n.outputs, SCRIPT_MATRIX @ [2, 1])
    np.testing.assert_allclose(n.terms.sum(axis=1), n.outputs)
    for i in range(2):  # the foot is x's projection onto the row's line
        row = SCRIPT_MATRIX[i]
        assert np.dot(np.array([2.0, 1.0]) - n.feet[i], row) == pytest.approx(0.0, abs=1e-12)
        assert n.shadows[i] * n.row_lengths[i] == pytest.approx(n.outputs[i])


@given(matrices, arrays(np.float64, 2, elements=st.floats(-5, 5, allow_nan=False)))
def test_projection_outputs_are_A_times_x(A, x):
    if not A.any() or not x.any():
        return
    n = sv.projection_numbers(A, x)
    np.testing.assert_allclose(n.outputs, A @ x, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(n.feet, axis=1), np.abs(n.shadows), atol=1e-9)


def test_inputs_with_inputs_numbers():
    n = sv.inputs_with_inputs_numbers()
    i, j = n.entry
    assert i != j, "an off-diagonal entry lights up"
    np.testing.assert_allclose(n.gram, SCRIPT_MATRIX.T @ SCRIPT_MATRIX)
    for a in range(2):
        for b in range(2):
            assert n.gram[a, b] == pytest.approx(np.dot(SCRIPT_MATRIX[:, a], SCRIPT_MATRIX[:, b]))
    assert n.products.sum() == pytest.approx(n.gram[i, j]) == pytest.approx(3.08)


@given(matrices)
def test_eigenvectors_are_lapacks(A):
    if not A.any():
        return
    n = sv.eigenvector_numbers(A)
    w, Q = np.linalg.eigh(A.T @ A)  # LAPACK's symmetric eigensolver, ascending
    scale = max(1.0, float(w[-1]))
    np.testing.assert_allclose(n.eigenvalues, w[::-1], atol=1e-9 * scale)
    np.testing.assert_allclose(n.images, n.ring @ n.gram.T, atol=1e-12 * scale)
    if w[-1] - w[0] > 1e-6 * scale:  # distinct eigenvalues: the eigenvectors are unique up to sign
        for k in range(2):
            assert abs(np.dot(n.eigenvectors[k], Q[:, 1 - k])) == pytest.approx(1.0, abs=1e-6)
    # the eigenvectors in the ring only stretch
    e = n.ring[n.is_eigen]
    cross = e[:, 0] * n.images[n.is_eigen, 1] - e[:, 1] * n.images[n.is_eigen, 0]
    np.testing.assert_allclose(cross, 0.0, atol=1e-9 * scale)
    assert n.is_eigen.sum() == 4


def test_eigenvector_numbers_for_the_script():
    n = sv.eigenvector_numbers()
    w, Q = np.linalg.eigh(SCRIPT_MATRIX.T @ SCRIPT_MATRIX)
    np.testing.assert_allclose(np.abs(n.eigenvectors @ Q[:, ::-1]), np.eye(2), atol=1e-12)
    assert np.all(np.abs(n.turn_degrees[~n.is_eigen]) > 1.0), "every other vector of the ring turns"


@given(matrices)
def test_rotate_scale_rotate_numbers(A):
    if not A.any():
        return
    n = sv.rotate_scale_rotate_numbers(A)
    np.testing.assert_allclose(n.cumulative[-1], A, atol=1e-12 * max(1.0, np.abs(A).max()))
    np.testing.assert_allclose(n.U @ np.diag(n.S) @ n.Vt, A, atol=1e-12 * max(1.0, np.abs(A).max()))
    kinds = [s.kind for s in n.stages]
    assert kinds[1] == "scale"
    if np.linalg.det(A) > 1e-9:
        assert kinds == ["rotate", "scale", "rotate"]
    elif np.linalg.det(A) < -1e-9:
        assert kinds.count("reflect") == 1
    for stage in n.stages:
        if stage.kind == "rotate":
            t = np.radians(stage.angle_degrees)
            np.testing.assert_allclose(stage.matrix, [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]], atol=1e-12)


def test_rotate_scale_rotate_uses_the_librarys_svd():
    n = sv.rotate_scale_rotate_numbers()
    U, S, Vt = sl.svd(SCRIPT_MATRIX)
    np.testing.assert_allclose(n.S, S)
    for i in range(2):  # the same singular pairs; a pair's sign may be flipped in both u and v
        sign = np.sign(np.dot(n.Vt[i], Vt[i]))
        np.testing.assert_allclose(n.Vt[i], sign * Vt[i], atol=1e-12)
        np.testing.assert_allclose(n.U[:, i], sign * U[:, i], atol=1e-12)


@given(matrices)
def test_u_is_Av_over_sigma(A):
    if not A.any():
        return
    n = sv.u_from_v_numbers(A)
    U, S, Vt = sl.svd(A)
    np.testing.assert_allclose(n.S, S, atol=NOISE * S[0])  # a σ at rounding-noise level is shown as 0
    ok = np.isfinite(n.u_from_v[:, 0])
    np.testing.assert_allclose(n.u_from_v[ok], np.asarray(U).T[ok], atol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(n.u_from_v[ok], axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(n.Av, n.V @ A.T, atol=1e-12)


def test_u_from_v_of_a_singular_matrix_says_sigma_is_zero():
    n = sv.u_from_v_numbers([[1.0, 2.0], [2.0, 4.0]])
    assert np.isfinite(n.u_from_v[0]).all() and np.isnan(n.u_from_v[1]).all()
    assert n.S[1] == 0.0, "σ₂ ≈ 1e-16 from the SVD is rounding noise: shown as 0"


# Singular and ill-conditioned matrices are drawn, not refused: σ₂ = 0 flattens the plane onto a line.
HARD = {
    "rank 1": [[1, 2], [2, 4]],
    "a zero row": [[0, 0], [1, 2]],
    "a zero column": [[0, 1], [0, 2]],
    "one nonzero entry": [[0, 0], [0, 1e-6]],
    "sigma2 1e-12": [[1, 0], [0, 1e-12]],
    "sigma2 1e-13, negative": [[-1, 0], [0, -1e-13]],
    "an entry of 1e-8": [[1e-8, 0], [0, 1]],
    "nearly rank 1": [[1, 1], [1, 1 + 1e-10]],
    "rank 1 at the largest entries": [[1e3, -1e3], [1e3, -1e3]],
    "rank 1 in decimals": [[0.1, 0.2], [0.3, 0.6]],
}


@pytest.mark.parametrize("A", [np.array(m, float) for m in HARD.values()], ids=list(HARD))
def test_singular_and_ill_conditioned_matrices_give_the_numbers_of_one_svd(A):
    with warnings.catch_warnings(), np.errstate(all="raise"):  # no division by zero, no overflow, no NaN made
        warnings.simplefilter("error")
        p, w, e, r, u = (
            f(A)
            for f in (
                sv.projection_numbers,
                sv.inputs_with_inputs_numbers,
                sv.eigenvector_numbers,
                sv.rotate_scale_rotate_numbers,
                sv.u_from_v_numbers,
            )
        )
    for n in (p, w, e, r, u):
        for name, value in vars(n).items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and name != "u_from_v":
                assert np.isfinite(value).all(), (type(n).__name__, name)
    U, S, Vt = matrix_svd(A)
    exact = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(S, exact, atol=NOISE * exact[0])
    assert S[1] == 0 or S[1] > NOISE * S[0]
    if np.linalg.matrix_rank(A) < 2 and np.abs(A).max() >= 1e-3:  # singular in the numbers typed
        assert S[1] == 0.0
    # every scene shows the same singular values
    np.testing.assert_array_equal(r.S, S)
    np.testing.assert_array_equal(u.S, S)
    np.testing.assert_array_equal(e.eigenvalues, S**2)
    # rotate, scale, rotate: still A at the end, and a singular A needs no reflection
    np.testing.assert_allclose(r.cumulative[-1], A, atol=4 * NOISE * S[0])
    if S[1] == 0:
        assert [s.kind for s in r.stages] == ["rotate", "scale", "rotate"]
        flat = r.final_points()["circle"]  # the unit circle lands on the line of u₁
        np.testing.assert_allclose(flat @ r.U[:, 1], 0.0, atol=4 * NOISE * S[0])
    # u = Av/σ where σ can be divided by; NaN (never drawn) exactly where it cannot
    divisible = u.S > RANK_TOL * u.S[0]
    assert np.isnan(u.u_from_v[~divisible]).all() and np.isfinite(u.u_from_v[divisible]).all()
    np.testing.assert_allclose(np.abs(np.sum(u.u_from_v[divisible] * u.U[divisible], axis=1)), 1.0, atol=1e-3)
    # AᵀA: the eigenvectors stay on their lines; a vector whose image is 0 does not count as turned
    assert e.is_eigen.sum() == 4 and np.all(e.turn_degrees[e.is_eigen] == 0)
    assert np.all(np.isfinite(e.turn_degrees)) and np.all(np.abs(e.turn_degrees) <= 180)


def shown_text(scene) -> list[str]:
    """Every piece of text on screen at the end of a rendered scene."""
    mobs = [m for top in scene.mobjects + scene.foreground_mobjects for m in top.get_family()]
    return [m.original_text for m in mobs if isinstance(m, __import__("manim").Text)]


def test_a_singular_matrix_renders_the_plane_flattened_onto_a_line(tmp_path):
    A = np.array([[1.0, 2.0], [2.0, 4.0]])
    r = sv.render_scene("rotate-scale-rotate", tmp_path, "low", matrix=A)
    scene, n = r.scene, r.scene.numbers
    now = scene.current_points()
    for name, start in n.starting_points().items():
        np.testing.assert_allclose(now[name], start @ A.T, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(now[name] @ [2.0, -1.0], 0.0, atol=1e-9, err_msg=name)  # on the line y = 2x
    words = " ".join(shown_text(scene))
    assert "σ₂ = 0" in words and "nan" not in words.lower() and "inf" not in words.lower()
    assert read_video(r.path)[0][-1].std() > 5
    right = max(m.get_right()[0] for m in scene.mobjects if isinstance(m, __import__("manim").Text))
    assert right <= FRAME_W / 2, "the steps' text stays inside the frame"

    r = sv.render_scene("u-from-v", tmp_path, "low", matrix=A)
    words = " ".join(shown_text(r.scene))
    assert "σ₂ = 0: A v₂ = 0" in words and "nan" not in words.lower()


def test_a_tiny_sigma_is_named_not_divided_by(tmp_path):
    r = sv.render_scene("u-from-v", tmp_path, "low", matrix=[[1.0, 0.0], [0.0, 1e-13]])
    words = " ".join(shown_text(r.scene))
    assert "σ₂ = 1.00e−13 is too small next to σ₁ = 1 to divide by" in words and "nan" not in words.lower()


def test_docstring_examples():
    for name in [
        "_check",
        "_projection",
        "_inputs_with_inputs",
        "_eigenvectors",
        "_rotate_scale_rotate",
        "_u_from_v",
        "_puzzle",
        "_generated_image",
    ]:
        module = importlib.import_module(f"svdlens.video.{name}")
        assert doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0, name


# ---------------------------------------------------------- render() and input


def test_render_writes_only_the_mp4s_and_its_manifest(tmp_path):
    out = tmp_path / "out"
    calls = []
    paths = sv.render(
        ["projection", "u_from_v"],
        out=out,
        matrix=[[2, 1], [1, 3]],
        progress=lambda done, total, label: calls.append((done, total, label)),
    )
    assert [p.name for p in paths] == ["01-projection.mp4", "05-u-from-v.mp4"]
    assert sorted(p.name for p in out.iterdir()) == [".svdlens-manifest.json", "01-projection.mp4", "05-u-from-v.mp4"]
    assert calls == [(0, 2, "projection"), (1, 2, "u-from-v"), (2, 2, "done")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no staging folder is left"
    assert read_video(paths[1])[0][0].shape == (480, 854, 3)
    # a rerun replaces what svdlens wrote; a file it did not write is refused before any work
    sv.render("projection", out=out)
    assert sorted(p.name for p in out.iterdir()) == [".svdlens-manifest.json", "01-projection.mp4", "05-u-from-v.mp4"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "05-u-from-v.mp4").write_text("someone else's")
    with pytest.raises(sv_exceptions.OutputError, match="did not write"):
        sv.render(["projection", "u-from-v"], out=other)
    assert sorted(p.name for p in other.iterdir()) == ["05-u-from-v.mp4"]
    assert (other / "05-u-from-v.mp4").read_text() == "someone else's"


def test_render_is_whole_or_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")

    class Broken(sv.UFromVScene):
        def construct(self):
            raise RuntimeError("the second scene fails")

    monkeypatch.setitem(sv.SCENES, "u-from-v", Broken)
    with pytest.raises(RuntimeError, match="second scene"):
        sv.render(["projection", "u-from-v"], out=out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize(
    "bad",
    [
        np.ones((3, 3)),
        np.ones((2, 3)),
        [1, 2, 3, 4],
        [[np.nan, 0], [0, 1]],
        np.zeros((2, 2)),
        "two by two",
        [[1e9, 0], [0, 1]],
        [[1e-9, 0], [0, 0]],
        [[1e-320, 0], [0, 1e-320]],
    ],
)
def test_a_matrix_scene_refuses_a_bad_matrix(bad, tmp_path):
    with pytest.raises(ValueError):
        sv.rotate_scale_rotate_numbers(bad)
    with pytest.raises(ValueError):
        sv.render(["rotate-scale-rotate"], out=tmp_path / "out", matrix=bad)
    assert not (tmp_path / "out").exists(), "checked before anything is written"


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.zeros((2, 2)), "give a matrix with a nonzero entry"),
        ([[1e-9, 0], [0, 0]], "Multiply the matrix by a power of ten"),
        ([[1e9, 0], [0, 1]], "Divide the matrix by a power of ten"),
    ],
)
def test_a_refused_matrix_says_what_to_do(bad, words):
    with pytest.raises(sv_exceptions.SvdlensError, match=words) as info:
        sv.u_from_v_numbers(bad)
    assert "\n" not in str(info.value)


def test_bad_names_qualities_and_sizes_are_clear_value_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown scene 'spiral'.*rotate-scale-rotate"):
        sv.render(["spiral"], out=tmp_path)
    with pytest.raises(ValueError, match="unknown quality 'ultra'.*low.*medium.*high"):
        sv.render(["projection"], out=tmp_path, quality="ultra")
    with pytest.raises(ValueError, match="takes no matrix"):
        sv.render_scene("puzzle", tmp_path, matrix=SCRIPT_MATRIX)
    with pytest.raises(ValueError, match="k must be"):
        sv.puzzle_numbers(k=0)
    with pytest.raises(ValueError, match="k must be"):
        sv.puzzle_numbers(k=10_000)
    with pytest.raises(ValueError, match="steps must be"):
        sv.generated_image_numbers(steps=10**6)
    with pytest.raises(ValueError, match="strengths"):
        sv.jacobian_directions_numbers(strengths=list(range(100)))
    assert list(tmp_path.iterdir()) == []
    assert sv.scene_class("RotateScaleRotateScene") is sv.RotateScaleRotateScene
    assert sv.scene_class("rotate_scale_rotate") is sv.RotateScaleRotateScene


def test_qualities():
    assert {k: (q.width, q.height, q.fps) for k, q in sv.QUALITIES.items()} == {
        "low": (854, 480, 15),
        "medium": (1280, 720, 30),
        "high": (1920, 1080, 60),
    }


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_importing_svdlens_does_not_import_manim():
    r = run_python("import sys, svdlens; print('manim' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_without_manim_the_video_package_says_what_to_install():
    r = run_python(
        "import sys; sys.modules['manim'] = None\n"
        "import svdlens\n"
        "from svdlens.exceptions import MissingDependencyError\n"
        "try:\n"
        "    import svdlens.video\n"
        "except MissingDependencyError as err:\n"
        "    assert isinstance(err, ImportError)\n"
        "    print(err)\n"
    )
    assert r.returncode == 0, r.stderr
    assert 'pip install "svdlens[video]"' in r.stdout


# ------------------------------------------------------------------ the command


@pytest.mark.parametrize(
    "args, words",
    [
        (["--matrix", "0 0; 0 0"], ["--matrix: the matrix is all zeros", "nonzero entry"]),
        (["--matrix", "1e-9 0; 0 0"], ["--matrix:", "power of ten"]),
        (["--matrix", "1 2 3"], ["--matrix:", "2×2"]),
        (["--matrix", "nan 1; 1 1"], ["--matrix:", "NaN"]),
        (["--scene", "spiral"], ["--scene: unknown scene 'spiral'"]),
        (["--quality", "ultra"], ["--quality: unknown quality 'ultra'"]),
        (["--scene", "puzzle", "--matrix", "1 2; 3 4"], ["--matrix is drawn by the matrix scenes", "--scene"]),
    ],
)
def test_the_command_names_the_flag_of_a_bad_value(tmp_path, args, words):
    from typer.testing import CliRunner

    from svdlens.cli import app

    res = CliRunner().invoke(app, ["video", *args, "--out", str(tmp_path / "o")])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2, flat
    assert "Traceback" not in res.output and res.output.count("error:") == 1
    for w in words:
        assert w in flat, flat
    assert not (tmp_path / "o").exists()


def test_the_command_draws_a_rank_1_matrix(tmp_path):
    from typer.testing import CliRunner

    from svdlens.cli import app

    res = CliRunner().invoke(
        app, ["video", "--scene", "u-from-v", "--matrix", "1 2; 2 4", "--out", str(tmp_path / "o"), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    assert read_video(tmp_path / "o" / "05-u-from-v.mp4")[0][0].shape == (480, 854, 3)

"""The face world: deterministic renders, independent factors, and named points that differ as claimed."""

import numpy as np
import pytest

from svdlens.exceptions import InvalidParameterError
from svdlens.faces import world


def test_factors_have_names_ranges_and_at_least_eight_entries():
    assert len(world.FACTORS) >= 8 and len(set(world.NAMES)) == len(world.NAMES)
    assert all(f.low < f.high and f.meaning for f in world.FACTORS)
    f = world.sample_factors(5000, seed=3)
    lows, highs = np.array([x.low for x in world.FACTORS]), np.array([x.high for x in world.FACTORS])
    assert f.shape == (5000, len(world.FACTORS))
    assert (f >= lows).all() and (f <= highs).all()
    # uniform in each range: the sample spread matches (high - low)/sqrt(12)
    np.testing.assert_allclose(f.std(0), world.spread(), rtol=0.05)


def test_sampling_and_rendering_are_deterministic():
    a, b = world.sample_factors(8, seed=11), world.sample_factors(8, seed=11)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, world.sample_factors(8, seed=12))
    assert not np.array_equal(world.sample_factors(8, seed=(11, 1)), world.sample_factors(8, seed=(11, 2)))
    np.testing.assert_array_equal(world.render(a), world.render(b))
    images = world.render(a)
    assert images.shape == (8, 64, 64) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1


def test_rendering_in_chunks_equals_one_by_one():
    f = world.sample_factors(600, seed=4)  # more than one chunk
    whole = world.render(f)
    np.testing.assert_array_equal(whole[[0, 511, 512, 599]], world.render(f[[0, 511, 512, 599]]))


def test_sampled_factors_are_uncorrelated():
    f = world.sample_factors(20000, seed=0)
    c = np.corrcoef(f.T)
    off = np.abs(c[~np.eye(len(c), dtype=bool)])
    assert off.max() < 0.03


def test_each_factor_changes_the_image_in_its_own_way():
    """On renders: every factor moves pixels, and no two factors move them alike (full rank, no aliasing)."""
    base = world.sample_factors(6, seed=7)
    step = 0.1 * (np.array([f.high - f.low for f in world.FACTORS]))
    for x in base:
        diffs = []
        for i in range(len(world.FACTORS)):
            hi, lo = x.copy(), x.copy()
            hi[i] += step[i] / 2
            lo[i] -= step[i] / 2
            diffs.append((world.render(hi) - world.render(lo)).ravel())
        D = np.array(diffs)
        norms = np.linalg.norm(D, axis=1)
        assert norms.min() > 0.05, dict(zip(world.NAMES, norms.round(3)))
        cos = (D @ D.T) / np.outer(norms, norms)
        np.fill_diagonal(cos, 0)
        assert np.abs(cos).max() < 0.9
        s = np.linalg.svd(D / norms[:, None], compute_uv=False)
        assert s[-1] / s[0] > 0.05  # the ten changes span ten dimensions


def test_anti_aliased_edges_have_intermediate_values():
    img = world.render(world.named("scary face"))[0]
    levels = np.unique(np.round(img, 3))
    assert len(levels) > 100  # not a handful of flat colours: edges are blended


def test_named_points_differ_in_expression_brows_and_eyes_only():
    scary, friendly = world.named("scary face")[0], world.named("friendly puppet")[0]
    differ = {name for name, a, b in zip(world.NAMES, scary, friendly) if a != b}
    assert differ == {"expression", "brow_angle", "eye_open"}
    assert scary[world.NAMES.index("expression")] == -1 and friendly[world.NAMES.index("expression")] == 1
    with pytest.raises(InvalidParameterError, match="no named face"):
        world.named("wolf")


def test_sweep_moves_one_factor_per_row():
    sw = world.sweep(5)
    assert sw.shape == (len(world.FACTORS), 5, len(world.FACTORS))
    for i, f in enumerate(world.FACTORS):
        moved = np.ptp(sw[i], axis=0)
        assert moved[i] == pytest.approx(f.high - f.low) and np.delete(moved, i).max() == 0


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 3)), r"factors must be \(n, 10\)"),
        (np.full((1, 10), np.nan), "finite"),
        ({"smile": 1.0}, "unknown factor"),
    ],
)
def test_bad_factors_are_refused(bad, match):
    with pytest.raises(InvalidParameterError, match=match):
        world.render(bad)


def test_bad_sizes_are_refused():
    with pytest.raises(InvalidParameterError, match="size"):
        world.render(world.sample_factors(1), size=8)
    with pytest.raises(InvalidParameterError, match="n must be"):
        world.sample_factors(world.MAX_RENDER + 1)


def test_start_face_picks_the_world_for_its_model_and_real_faces_elsewhere():
    from svdlens.cli._diffusion import read_start_image
    from svdlens.diffusion import start_face
    from svdlens.faces import builtin

    np.testing.assert_array_equal(start_face("builtin", 3), world.face(3))
    np.testing.assert_array_equal(start_face("builtin", "scary-face"), world.face("scary face"))
    np.testing.assert_array_equal(start_face("builtin-lfw", 7), builtin("faces")[7])
    np.testing.assert_array_equal(start_face("some/folder", "7"), builtin("faces")[7])
    # the CLI's start specs read the same faces
    np.testing.assert_array_equal(read_start_image("world:3"), world.face(3))
    np.testing.assert_array_equal(read_start_image("builtin:7"), builtin("faces")[7])
    for model, which, match in [
        ("builtin", world.MAX_GALLERY, "index"),
        ("builtin", "nope", "named faces are"),
        ("builtin-lfw", 100, r"\[0, 99\]"),
        ("builtin-lfw", "scary-face", "belong to the face world"),
    ]:
        with pytest.raises(InvalidParameterError, match=match):
            start_face(model, which)


def test_fit_recovers_the_factors_of_renders_and_measures_distance_from_the_world():
    truth = world.sample_factors(48, seed=(11, 3))
    found, rms = world.fit(world.render(truth))
    error = (np.abs(found - truth) / (world._HIGH - world._LOW)).max(axis=1)  # in units of each range
    assert error.max() < 1e-3 and np.median(error) < 1e-5
    assert rms.max() < world.FIT_TOLERANCE
    # noise of sd 0.02 is what is left over, and the factors stay within a few hundredths of a range
    noisy = world.render(truth[:8]) + np.random.default_rng(0).normal(0, 0.02, (8, world.SIZE, world.SIZE))
    found, rms = world.fit(noisy)
    assert np.allclose(rms, 0.02, atol=0.002)
    assert np.median(np.abs(found - truth[:8]) / (world._HIGH - world._LOW)) < 0.01
    # a blank image is far from every face of the world
    assert world.fit(np.full((world.SIZE, world.SIZE), 0.5))[1][0] > 0.1


def test_fit_restarts_out_of_a_local_minimum(monkeypatch):
    # two of 512 renders whose first fit ends where expression and mouth width trade off
    truth = world.sample_factors(512, seed=11)[[51, 443]]
    stuck, stuck_rms = world.fit(world.render(truth), restarts=0)
    assert np.all(stuck_rms > 1e-3) and np.abs(stuck - truth).max() > 0.01
    found, rms = world.fit(world.render(truth))  # the default two restarts: a blurred fit, then a nudge
    assert np.all(rms < world.FIT_TOLERANCE) and np.abs(found - truth).max() < 1e-4
    # off the world every restart is taken (one fit, then a blurred fit and its sharp one, then a
    # nudged one), and the best fit is kept
    noisy = world.render(truth[:1]) + np.random.default_rng(1).normal(0, 0.02, (1, world.SIZE, world.SIZE))
    calls = []
    fit_one = world._fit_one
    monkeypatch.setattr(world, "_fit_one", lambda *a, **k: calls.append(k.get("blur", 0)) or fit_one(*a, **k))
    _, restarted = world.fit(noisy, restarts=2)
    assert calls == [0, world._FIT_BLUR, 0, 0]
    assert restarted <= world.fit(noisy, restarts=0)[1]


def test_fit_reads_tensors_and_channel_axes_as_the_oracle_does():
    import torch

    truth = world.sample_factors(2, seed=(11, 4))
    plain = world.fit(world.render(truth))
    tensor = torch.tensor(world.render(truth), requires_grad=True)[:, None]
    for got, want in zip(world.fit(tensor), plain):
        np.testing.assert_allclose(got, want)
    factors, rms = world.fit(np.empty((0, world.SIZE, world.SIZE)))
    assert factors.shape == (0, len(world.FACTORS)) and rms.shape == (0,)


@pytest.mark.parametrize("bad, match", [(np.zeros((2, 32, 32)), "64, 64"), (np.full((1, 64, 64), np.nan), "NaN")])
def test_fit_refuses_images_the_oracle_cannot_read(bad, match):
    with pytest.raises(InvalidParameterError, match=match):
        world.fit(bad)
    with pytest.raises(InvalidParameterError, match="restarts"):
        world.fit(world.render(world.sample_factors(1, seed=0)), restarts=11)


def test_distance_is_in_spreads_from_a_named_face_a_mapping_or_a_vector():
    scary, puppet = world.named("scary face"), world.named("friendly puppet")
    want = np.sqrt((((scary - puppet) / world.spread()) ** 2).sum())
    np.testing.assert_allclose(world.distance(scary, "friendly puppet"), [want])
    np.testing.assert_allclose(world.distance(scary[0], puppet[0]), [want])
    np.testing.assert_allclose(world.distance(scary, dict(zip(world.NAMES, puppet[0]))), [want])
    both = world.distance(np.concatenate([scary, puppet]), "friendly puppet")
    assert both.shape == (2,) and both[1] == 0
    # one unit is one spread on every factor
    moved = puppet.copy()
    moved[0, world.NAMES.index("hair")] += world.spread()[world.NAMES.index("hair")]
    np.testing.assert_allclose(world.distance(moved, "friendly puppet"), [1.0])
    with pytest.raises(InvalidParameterError, match="one face"):
        world.distance(scary, np.concatenate([scary, puppet]))
    with pytest.raises(InvalidParameterError, match="no named face"):
        world.distance(scary, "grumpy cat")

"""Factor effects: the purity of directions built to move known factors, read by an exact and by the shipped oracle."""

import numpy as np
import pytest
import torch

from svdlens.diffusion._semantics import factor_effects
from svdlens.exceptions import InvalidParameterError
from svdlens.faces import world

F = len(world.FACTORS)


class WorldAsModel:
    """A stand-in pipeline whose "denoising" renders the world: x_t's first F entries move the factors.

    Entry j of x_t, times ``gain``, is factor j's offset from ``base`` in spreads, so the unit
    direction e_j moves factor j alone, by ``gain`` spreads per unit strength. It remembers the
    factors of every image it drew, for :class:`ExactOracle`.
    """

    image_channels, image_size, device, dtype = 1, world.SIZE, torch.device("cpu"), torch.float32

    def __init__(self, base, gain=0.05):
        self.base, self.gain, self.drawn = base, gain, {}

    def generate(self, xt, t, steps):
        factors = self.base + xt.reshape(len(xt), -1)[:, :F].double().numpy() * self.gain * world.spread()
        images = world.render(factors)
        self.drawn.update((img.tobytes(), f) for img, f in zip(images, factors))
        return images


class ExactOracle:
    """Reads back the factors the stand-in drew each image from: an oracle with no error."""

    def __init__(self, model):
        self.model = model

    def predict(self, images):
        return np.array([self.model.drawn[img.tobytes()] for img in np.asarray(images)])


def _directions(rows):
    V = torch.zeros(len(rows), 1, world.SIZE, world.SIZE)
    for i, row in enumerate(rows):
        V[i, 0, 0, :F] = torch.as_tensor(row, dtype=torch.float32)
    return V


def _exact_effects(V, strength=2.0):
    model = WorldAsModel(world.factors_of({})[0])
    xt = torch.zeros(1, 1, world.SIZE, world.SIZE)
    return factor_effects(model, xt, V, strength=strength, oracle=ExactOracle(model))


def test_directions_that_move_one_factor_are_pure_and_named():
    V = _directions(np.eye(F))
    fx = _exact_effects(V)
    np.testing.assert_allclose(fx.purity, 1.0, atol=1e-12)
    assert fx.factor == list(world.NAMES)
    np.testing.assert_allclose(fx.change, np.eye(F) * 0.05, atol=1e-9)  # gain spreads per unit strength
    np.testing.assert_allclose(fx.size, 0.05, atol=1e-9)
    best = fx.purest()
    assert all(best[name]["index"] == j and best[name]["sign"] == 1 for j, name in enumerate(world.NAMES))


def test_a_mixed_direction_splits_its_share():
    a, b = np.zeros(F), np.zeros(F)
    a[[0, 1]] = [1, 1]  # expression and brows equally
    b[[0, 2]] = [3, -4]  # 9/25 on expression, 16/25 on eyes (closing them)
    fx = _exact_effects(_directions([a, b]))
    np.testing.assert_allclose(fx.share[0, :2], [0.5, 0.5], atol=1e-9)
    np.testing.assert_allclose(fx.share[1, [0, 2]], [9 / 25, 16 / 25], atol=1e-9)
    np.testing.assert_allclose(fx.share.sum(1), 1.0)
    assert fx.factor[1] == "eye_open" and fx.purest()["eye_open"]["sign"] == -1
    np.testing.assert_allclose(fx.purity, [0.5, 16 / 25], atol=1e-9)


def test_the_shipped_oracle_reads_pure_directions_as_pure():
    # ±0.4 spreads of each factor: well above the oracle's error (at ±0.2, head_y's 0.35-pixel move is not)
    model = WorldAsModel(world.factors_of({})[0], gain=0.1)
    fx = factor_effects(model, torch.zeros(1, 1, world.SIZE, world.SIZE), _directions(np.eye(F)), strength=4.0)
    assert fx.factor == list(world.NAMES)
    assert fx.purity.min() > 0.95, dict(zip(world.NAMES, fx.purity.round(3)))


def test_bad_directions_are_refused():
    model = WorldAsModel(world.factors_of({})[0])
    xt = torch.zeros(1, 1, world.SIZE, world.SIZE)
    with pytest.raises(InvalidParameterError, match="finite and nonzero"):
        factor_effects(model, xt, torch.zeros(2, 1, world.SIZE, world.SIZE))
    with pytest.raises(InvalidParameterError, match="strength"):
        factor_effects(model, xt, _directions(np.eye(2, F)), strength=0)
    with pytest.raises(InvalidParameterError, match="one label per direction"):
        factor_effects(model, xt, _directions(np.eye(2, F)), labels=["a"])
    with pytest.raises(InvalidParameterError, match="one image at a time"):
        factor_effects(model, xt.repeat(2, 1, 1, 1), _directions(np.eye(2, F)))
    other = WorldAsModel(world.factors_of({})[0])
    other.image_size = 32
    with pytest.raises(InvalidParameterError, match="face world"):
        factor_effects(other, xt, _directions(np.eye(2, F)))


def test_the_pipeline_refuses_several_images_before_inverting_them(monkeypatch):
    from svdlens.diffusion import load_cached

    pipe = load_cached("builtin")
    monkeypatch.setattr(pipe, "_x_t32", lambda *a, **k: pytest.fail("inverted before the check"))
    faces = np.stack([world.face(0), world.face(1)])
    for images in (faces, faces[:, None], torch.tensor(faces)):
        with pytest.raises(InvalidParameterError, match="one image at a time"):
            pipe.factor_effects(_directions(np.eye(2, F)), images, t=0.6, steps=3)

"""The factor oracle: held-out R² per factor, scikit-learn's R², training and saving."""

import numpy as np
import pytest

from svdlens.exceptions import InvalidParameterError, ModelLoadError
from svdlens.faces import world
from svdlens.faces._oracle import FactorOracle, r2_scores, train_oracle


def test_the_shipped_oracle_reads_every_factor_on_held_out_renders():
    f = world.sample_factors(300, seed=(4242, 0))  # a stream neither training nor the record used
    r2 = world.oracle().score(world.render(f), f)
    assert r2.shape == (len(world.FACTORS),)
    assert r2.min() >= 0.95, dict(zip(world.NAMES, r2.round(3)))
    record = world.oracle().record["heldout_r2"]
    assert set(record) == set(world.NAMES) and min(record.values()) >= 0.9


def test_r2_matches_scikit_learn():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    np.testing.assert_allclose(r2_scores(y, p), r2_score(y, p, multioutput="raw_values"))


def test_predictions_are_in_factor_units_and_inputs_are_checked():
    o = world.oracle()
    f = world.named("scary face")
    pred = o.predict(world.render(f))
    assert pred.shape == (1, len(world.FACTORS))
    width = np.array([x.high - x.low for x in world.FACTORS])
    assert (np.abs(pred[0] - f[0]) < 0.1 * width).all(), pred[0] - f[0]
    np.testing.assert_array_equal(o.predict(world.render(f)[:, None]), pred)  # (n, 1, h, w) too
    with pytest.raises(InvalidParameterError, match="64, 64"):
        o.predict(np.zeros((1, 32, 32)))
    with pytest.raises(InvalidParameterError, match="NaN"):
        o.predict(np.full((1, 64, 64), np.nan))


def test_a_few_training_steps_save_and_load(tmp_path):
    fit = train_oracle(tmp_path / "o", steps=2, batch_size=4, heldout=10)
    assert set(fit.record["heldout_r2"]) == set(world.NAMES) and fit.record["steps"] == 2
    back = FactorOracle.load(tmp_path / "o")
    x = world.render(world.sample_factors(3, seed=1))
    np.testing.assert_array_equal(back.predict(x), fit.predict(x))
    with pytest.raises(ModelLoadError, match="no factor oracle"):
        FactorOracle.load(tmp_path / "missing")

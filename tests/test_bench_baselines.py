"""The benchmarks' own baselines measure what they claim.

``bench/local_edits.py``'s ``power_iteration`` is the published method (Park et al. 2023; LOCO
Edit) that ``bench/warm_starts.py``, ``bench/krylov_gap.py`` and ``bench/local_edits.py`` count
products against, and ``bench/krylov_gap.py``'s ``synthetic`` matrices carry the spectra its
calibration names. Both are checked here against LAPACK. ``bench/semantics.py``'s bootstrap
intervals are checked against the delta method.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import krylov_gap
        import local_edits
        import semantics

        yield local_edits, krylov_gap, semantics
    finally:
        sys.path.remove(str(BENCH))


def test_the_synthetic_matrices_have_the_spectrum_they_name(bench):
    _, krylov_gap, _ = bench
    A = krylov_gap.synthetic(0.05, m=300, n=200)
    s = np.linalg.svd(A.numpy(), compute_uv=False)
    np.testing.assert_allclose(s[:5], [2.0, 1.9, 1.8, 1.7, 1.6], rtol=1e-12)
    assert s[5] / s[4] == pytest.approx(0.95, rel=1e-12)


def test_the_power_iteration_reaches_lapack_and_counts_its_products(bench):
    local_edits, krylov_gap, _ = bench
    A = krylov_gap.synthetic(0.2, m=300, n=200)
    x = torch.zeros(A.shape[1], dtype=torch.float64)
    out = local_edits.power_iteration(lambda v: A @ v, x, 5, 1e-6, max_iter=2000)
    assert out["residual"] <= 1e-6
    assert out["products"] == 2 * 5 * out["iterations"]  # one JVP and one VJP per vector per step
    np.testing.assert_allclose(out["s"], np.linalg.svd(A.numpy(), compute_uv=False)[:5], rtol=1e-6)
    # a smaller gap σ6/σ5 takes more steps: the premise of the calibration
    B = krylov_gap.synthetic(0.02, m=300, n=200)
    slow = local_edits.power_iteration(lambda v: B @ v, x, 5, 1e-6, max_iter=2000)
    assert slow["residual"] <= 1e-6 and slow["iterations"] > 2 * out["iterations"]


def test_the_semantics_intervals_match_the_delta_method_and_pairing(bench):
    _, _, semantics = bench
    rng = np.random.default_rng(1)
    a, b = rng.normal(2.0, 1.0, 400), rng.normal(1.0, 1.0, 400)
    low, high = semantics.interval(semantics.ratio_of_means, a, b)
    ratio = a.mean() / b.mean()
    # delta method: var(ā/b̄) ≈ (var ā + ratio² var b̄) / b̄²
    se = np.sqrt((a.var() / a.size + ratio**2 * b.var() / b.size) / b.mean() ** 2)
    assert low < ratio < high
    assert high - low == pytest.approx(2 * 1.645 * se, rel=0.15)
    # a paired difference of a sample with itself has no spread; unpaired it has
    assert semantics.interval(semantics.difference_of_means, a, a, paired=True) == (0.0, 0.0)
    low, high = semantics.interval(semantics.difference_of_means, a, a)
    assert low < 0 < high


def test_the_sample_quality_columns_are_the_samplers_they_name(bench):
    """Section 5's stochastic columns read samples drawn with that eta and those steps, seeded as the plain ones."""
    from scipy.stats import kstest

    import svdlens as sl
    from svdlens.faces import world

    _, _, semantics = bench
    pipe, oracle = sl.diffusion.load("builtin"), world.oracle()
    rows, noise_rows, *_ = semantics.sample_quality(pipe, oracle, 3, 2, more_steps=(3,), etas=(1.0,))
    assert [r["images"] for r in noise_rows] == [
        "3 samples, 2 steps",
        "3 samples, 2 steps, eta = 1",
        "3 samples, 3 steps, eta = 1",
        "3 renders",
    ]
    for steps, column in ((2, "KS (samples, eta = 1)"), (3, "KS (samples, 3 steps, eta = 1)")):
        read = oracle.predict(pipe.sample(n=3, seed=0, steps=steps, eta=1.0))
        expected = [
            kstest(read[:, j], "uniform", args=(f.low, f.high - f.low)).statistic for j, f in enumerate(world.FACTORS)
        ]
        np.testing.assert_allclose([r[column] for r in rows], expected)
    assert not np.allclose(
        [r["KS (samples, 3 steps)"] for r in rows], [r["KS (samples, 3 steps, eta = 1)"] for r in rows]
    )
    assert noise_rows[2]["background Laplacian sd"] == pytest.approx(
        semantics.grain(pipe.sample(n=3, seed=0, steps=3, eta=1.0))
    )
    # the second oracle: the renderer's own fit of the plain samples, and its residual per set
    plain = pipe.sample(n=3, seed=0, steps=2)
    fitted, rms = world.fit(plain)
    np.testing.assert_allclose(
        [r["KS (samples, renderer fit)"] for r in rows],
        [kstest(fitted[:, j], "uniform", args=(f.low, f.high - f.low)).statistic for j, f in enumerate(world.FACTORS)],
    )
    np.testing.assert_allclose(
        [r["mean |oracle − fit| (spreads)"] for r in rows],
        np.abs(oracle.predict(plain) - fitted).mean(axis=0) / world.spread(),
    )
    assert noise_rows[0]["renderer fit rms, median"] == pytest.approx(np.median(rms))
    assert noise_rows[0]["90th percentile"] == pytest.approx(np.quantile(rms, 0.9))
    stochastic_rms = world.fit(pipe.sample(n=3, seed=0, steps=2, eta=1.0))[1]
    assert noise_rows[1]["renderer fit rms, median"] == pytest.approx(np.median(stochastic_rms))
    assert noise_rows[-1]["renderer fit rms, median"] < 1e-4 < noise_rows[0]["renderer fit rms, median"]
    with pytest.raises(SystemExit):
        semantics.parse_args(["--etas", "1.5"])


def test_the_world_budget_trains_under_the_cap_it_names(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_world", BENCH / "world.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    train = module.train_child(2, 6.0, tmp_path / "ok", timeout=300)
    assert train["seconds per step"] > 0 and train["wall (s)"] > train["seconds per step"]
    # the child's own peak: torch and a 64×64 U-Net take a few hundred MiB, and the cap bounds it
    assert 0.2 < train["peak resident (GiB)"] < 6.0
    # the cap is real: a process that cannot map torch under it fails, and says so
    with pytest.raises(SystemExit, match="under a 0.2 GiB cap"):
        module.train_child(2, 0.2, tmp_path / "capped", timeout=300)

"""Warm starts (issue 24): ``start=`` in svd (krylov, subspace), local_basis and pipe.directions."""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import svdlens as sl
from svdlens.exceptions import InvalidParameterError

sys.path.insert(0, str(Path(__file__).parent))
from nets_models import AttentionNet

K = 5


def known_svd(m=300, n=200, decay=1.0, seed=0):
    """A = U diag(s) Vᵀ with s_j = j^-decay and random orthonormal U, V."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((m, min(m, n))))
    V, _ = np.linalg.qr(rng.standard_normal((n, min(m, n))))
    s = 1.0 / np.arange(1, min(m, n) + 1) ** decay
    return (U * s) @ V.T, U, s, V


def bad_starts(V, seed=0):
    """Starts that hold nothing of the top-K right vectors."""
    rng = np.random.default_rng(seed + 100)
    n = V.shape[0]
    P = np.eye(n) - V[:, :K] @ V[:, :K].T
    return {
        "next singular vectors": V[:, K : 2 * K].T,  # an invariant subspace: exact, but not the top
        "orthogonal to the top": (P @ rng.standard_normal((n, K))).T,
        "random": rng.standard_normal((K, n)),
    }


def assert_top(res, s):
    assert res.converged
    np.testing.assert_allclose(res.S, s[:K], rtol=1e-7)
    assert res.residuals.max() <= res.tol


@pytest.mark.parametrize("shape", [(300, 200), (200, 300)])
def test_a_start_from_the_true_basis_converges_at_once(shape):
    A, U, s, V = known_svd(*shape)
    b = 8
    cold = sl.svd(A, K, method="krylov", block_size=b, tol=1e-10)
    warm = sl.svd(A, K, method="krylov", block_size=b, tol=1e-10, start=V[:, :K].T)
    assert_top(cold, s)
    assert_top(warm, s)
    # Two block steps (the random columns get one step of their own), plus A·V₀ when m < n.
    assert warm.iterations == 2
    assert warm.n_matvec <= 2 * 2 * b + (K if shape[0] < shape[1] else 0)
    assert warm.n_matvec * 3 <= cold.n_matvec  # measured: 32 against 128 (300×200), 37 against 128 (200×300)
    np.testing.assert_allclose(np.abs(np.sum(warm.Vt * V[:, :K].T, axis=1)), 1.0, atol=1e-9)


def test_a_start_with_fewer_directions_than_k_still_helps():
    A, U, s, V = known_svd()
    cold = sl.svd(A, K, method="krylov", block_size=8, tol=1e-10)
    warm = sl.svd(A, K, method="krylov", block_size=8, tol=1e-10, start=V[:, :2].T)
    assert_top(warm, s)
    assert warm.n_matvec <= cold.n_matvec


@pytest.mark.parametrize("decay", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("kind", ["next singular vectors", "orthogonal to the top", "random"])
def test_a_bad_start_still_finds_the_top_triplets_and_costs_little_more(kind, decay):
    A, U, s, V = known_svd(decay=decay)
    b = 8  # local_basis's block
    cold = sl.svd(A, K, method="krylov", block_size=b, tol=1e-8)
    warm = sl.svd(A, K, method="krylov", block_size=b, tol=1e-8, start=bad_starts(V)[kind])
    assert_top(cold, s)
    assert_top(warm, s)  # the top five, never the start's exact but smaller triplets
    # Measured: at most 160 products against 144 cold (σ_j = j^-0.5); the same count elsewhere.
    assert warm.n_matvec <= 1.25 * cold.n_matvec


@pytest.mark.parametrize("kind", ["next singular vectors", "orthogonal to the top", "random"])
def test_at_the_cold_starts_budget_a_bad_start_meets_tol_too(kind):
    A, U, s, V = known_svd(decay=1.0)
    cold = sl.svd(A, K, method="krylov", block_size=8, tol=1e-8)
    warm = sl.svd(A, K, method="krylov", block_size=8, tol=1e-8, max_iter=cold.iterations, start=bad_starts(V)[kind])
    assert warm.n_matvec <= cold.n_matvec
    assert_top(warm, s)


def test_the_residuals_are_certified_as_for_a_cold_start():
    A, U, s, V = known_svd()
    start = V[:, :K].T + 1e-3 * np.random.default_rng(1).standard_normal((K, 200))  # a nearby basis
    res = sl.svd(A, K, method="krylov", tol=1e-9, start=start)
    r = (
        np.maximum(
            np.linalg.norm(A @ res.Vt.T - res.U * res.S, axis=0), np.linalg.norm(A.T @ res.U - res.Vt.T * res.S, axis=0)
        )
        / res.S[0]
    )
    np.testing.assert_allclose(res.residuals, r, atol=1e-12)
    assert res.converged and r.max() <= 1e-9
    assert res.method == "krylov"


def test_subspace_iteration_takes_a_start():
    A, U, s, V = known_svd()
    cold = sl.svd(A, K, method="subspace", tol=1e-8)
    warm = sl.svd(A, K, method="subspace", tol=1e-8, start=V[:, :K].T)
    assert_top(warm, s)
    assert warm.n_matvec < cold.n_matvec  # measured: 80 against 325
    bad = sl.svd(A, K, method="subspace", tol=1e-8, start=bad_starts(V)["next singular vectors"])
    np.testing.assert_allclose(bad.S, s[:K], rtol=1e-6)


def test_start_as_torch_and_of_any_shape():
    A, U, s, V = known_svd()
    At = torch.from_numpy(A).float()
    start = torch.from_numpy(V[:, :K].T.copy()).reshape(K, 10, 20)
    res = sl.svd(At, K, method="krylov", start=start)
    assert isinstance(res.S, torch.Tensor) and res.converged and res.iterations == 2
    one = sl.svd(A, K, method="krylov", start=V[:, 0])  # one direction, 1-D
    assert_top(one, s)
    auto = sl.svd(A, K, start=V[:, :K].T)  # auto means krylov once a start is given
    assert auto.method == "krylov" and auto.iterations == 2


def test_the_same_seed_gives_the_same_warm_result():
    A, U, s, V = known_svd()
    start = bad_starts(V)["random"]
    a = sl.svd(A, K, method="krylov", start=start, seed=3)
    b = sl.svd(A, K, method="krylov", start=start, seed=3)
    np.testing.assert_array_equal(a.Vt, b.Vt)
    assert a.n_matvec == b.n_matvec


@pytest.mark.parametrize(
    ("start", "options", "message"),
    [
        (np.ones((2, 7)), {}, r"directions of 200 numbers each .* got shape \(2, 7\)"),
        (np.full((2, 200), np.nan), {}, "start contains 400 NaN or Inf value.*direction 0 at entry 0"),
        (np.vstack([np.ones(200), np.zeros(200)]), {}, "start direction 1 is all zeros"),
        (np.ones((4, 200)), {"block_size": 4}, "block_size=4 leaves no column for a random direction"),
        (np.ones((0, 200)), {}, "got shape"),
        (np.ones((2, 200), dtype=complex), {}, "real numbers"),
        ("abc", {}, "array of numbers"),
        (np.ones((2, 200)), {"method": "exact"}, "method='krylov' and method='subspace' only"),
        (np.ones((2, 200)), {"method": "power"}, "method='krylov' and method='subspace' only"),
        (np.ones((20, 200)), {"method": "subspace"}, "give at most 19"),
    ],
)
def test_bad_starts_are_refused_with_what_to_do(start, options, message):
    A, U, s, V = known_svd()
    with pytest.raises(InvalidParameterError, match=message):
        sl.svd(A, K, **{"method": "krylov", **options}, start=start)


def test_a_start_needs_k():
    with pytest.raises(InvalidParameterError, match="needs k"):
        sl.svd(np.eye(3), start=np.eye(3)[:1])


# ----------------------------------------------------------------------------- local_basis
@pytest.fixture(scope="module")
def net_point():
    net = AttentionNet().double()
    x = torch.randn(1, 1, 6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return net, x


def test_local_basis_warm_start_from_its_own_basis(net_point):
    net, x = net_point
    cold = sl.local_basis(net, x, k=K, tol=1e-8)
    warm = sl.local_basis(net, x, k=K, tol=1e-8, start=cold.v)
    assert cold.converged and warm.converged
    torch.testing.assert_close(warm.s, cold.s, rtol=1e-8, atol=0)
    assert sl.grassmann_distance(warm.v, cold.v) < 1e-6
    # Block 8: two block steps, 16 JVPs and 16 VJPs (measured cold: 72 products).
    assert warm.n_matvec <= 2 * 2 * 8 < cold.n_matvec
    assert warm.iterations == 2


def test_local_basis_bad_start_is_no_worse_than_cold(net_point):
    net, x = net_point
    cold = sl.local_basis(net, x, k=K, tol=1e-8)
    rng = torch.Generator().manual_seed(5)
    V = cold.v.reshape(K, -1)
    R = torch.randn(K, V.shape[1], generator=rng, dtype=torch.float64)
    orthogonal = (R - (R @ V.T) @ V).reshape(cold.v.shape)
    warm = sl.local_basis(net, x, k=K, tol=1e-8, start=orthogonal)
    assert warm.converged and warm.residuals.max() <= 1e-8
    torch.testing.assert_close(warm.s, cold.s, rtol=1e-7, atol=0)
    assert warm.n_matvec <= 1.25 * cold.n_matvec


def test_local_basis_start_is_part_of_the_cache_key(net_point, tmp_path):
    net, x = net_point
    cold = sl.local_basis(net, x, k=3, tol=1e-8, cache_dir=tmp_path)
    assert cold.key == sl.nets.cache_key(net, x, k=3, method="krylov", tol=1e-8, seed=0, block_size=8)  # unchanged
    warm = sl.local_basis(net, x, k=3, tol=1e-8, cache_dir=tmp_path, start=cold.v)
    other = sl.local_basis(net, x, k=3, tol=1e-8, cache_dir=tmp_path, start=-cold.v)
    assert len({cold.key, warm.key, other.key}) == 3
    assert warm.jacobian is not None  # computed, not read back from the cold start's file
    again = sl.local_basis(net, x, k=3, tol=1e-8, cache_dir=tmp_path, start=cold.v.numpy())
    assert again.key == warm.key and again.jacobian is None  # the same start: read from the cache
    assert len(list(tmp_path.glob("basis-*.safetensors"))) == 3


def test_local_basis_grows_a_small_block_for_the_start(net_point):
    net, x = net_point
    cold = sl.local_basis(net, x, k=K, tol=1e-8)
    warm = sl.local_basis(net, x, k=K, tol=1e-8, start=cold.v, max_memory=1)  # budget: single products
    assert warm.converged and warm.iterations == 2 and warm.n_matvec == 2 * 2 * (K + 1)
    with pytest.raises(InvalidParameterError, match="block_size=5 leaves no column"):
        sl.local_basis(net, x, k=K, start=cold.v, block_size=5)
    with pytest.raises(InvalidParameterError, match="method='krylov' and method='subspace' only"):
        sl.local_basis(net, x, k=K, method="exact", start=cold.v)
    with pytest.raises(InvalidParameterError, match="directions of 36 numbers"):
        sl.local_basis(net, x, k=K, start=torch.ones(2, 5))


# ----------------------------------------------------------------------------- pipe.directions
@pytest.fixture(scope="module")
def ddim_pipe(tmp_path_factory):
    from tiny_pipelines import tiny_ddim

    return sl.diffusion.load(str(tiny_ddim(tmp_path_factory.mktemp("ddim") / "pipe")))


def test_pipe_directions_warm_start(ddim_pipe):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = ddim_pipe.directions(seed=0, t=0.5, k=3, steps=5)
        warm = ddim_pipe.directions(seed=0, t=0.5, k=3, steps=5, start=b.v)
        cold_next = ddim_pipe.directions(seed=0, t=0.7, k=3, steps=5)
        warm_next = ddim_pipe.directions(seed=0, t=0.7, k=3, steps=5, start=b.v)
    assert b.converged and warm.converged and warm_next.converged
    assert warm.n_matvec <= 2 * 2 * 8 < b.n_matvec  # measured: 32 against 144
    torch.testing.assert_close(warm.s, b.s, rtol=1e-4, atol=0)
    assert sl.grassmann_distance(warm.v, b.v) < 1e-2
    # From the basis at another t: the same triplets as a cold start there, within tol.
    torch.testing.assert_close(warm_next.s, cold_next.s, rtol=1e-3, atol=0)
    assert warm_next.residuals.max() <= 1e-4 and warm_next.t == cold_next.t


# ----------------------------------------------------------------------------- x-space guidance, followed
def test_guidance_path_follows_the_basis_and_warm_starts_save_products(ddim_pipe):
    pipe = ddim_pipe
    xt = pipe.noisy_sample(0, t=0.5, steps=5)
    b = pipe.directions(xt=xt, t=0.5, k=3, steps=5, tol=1e-3)
    kw = dict(xt=xt, v=b.v[0], strength=2.0, t=0.5, steps=5, iterations=3, k=3, scale=0.05, tol=1e-3)
    warm, cold = pipe.guidance_path(**kw), pipe.guidance_path(**kw, warm=False)
    assert len(warm.xs) == 4 and len(warm.bases) == 3 and warm.warm and not cold.warm
    assert warm.followed == cold.followed and warm.overlaps[0] == pytest.approx(1, abs=1e-4)
    for a, c in zip(warm.xs, cold.xs):  # the same path, warm or cold
        torch.testing.assert_close(a, c, rtol=0, atol=1e-4)
    assert warm.bases[0].n_matvec == cold.bases[0].n_matvec  # the first basis starts cold in both
    assert sum(w.n_matvec for w in warm.bases[1:]) < sum(c.n_matvec for c in cold.bases[1:])
    assert warm.products == sum(int(x.n_jvp + x.n_vjp) for x in warm.bases)
    # each step is the x-space guidance step along the followed direction (an independent recomputation)
    unet = lambda x: pipe.unet(x, pipe._schedule.grid(0.5, 5).t_index).sample  # noqa: E731
    v = warm.bases[0].v[warm.followed[0]].reshape(xt.shape[1:]) * torch.sign(
        (warm.bases[0].v[warm.followed[0]].reshape(-1) * b.v[0].reshape(-1)).sum()
    )
    with torch.no_grad():
        expected = xt + 0.05 * (unet(xt + 2.0 * v) - unet(xt))
    torch.testing.assert_close(warm.xs[1], expected, rtol=0, atol=1e-4)


def test_edit_follow_equals_plain_guidance_for_one_step_and_is_refused_alone(ddim_pipe):
    pipe = ddim_pipe
    xt = pipe.noisy_sample(0, t=0.5, steps=5)
    b = pipe.directions(xt=xt, t=0.5, k=3, steps=5)
    plain = pipe.edit(xt=xt, v=b.v[0], strengths=[2.0], t=0.5, steps=5, x_guidance=1, x_guidance_scale=0.05)
    followed = pipe.edit(
        xt=xt, v=b.v[0], strengths=[2.0], t=0.5, steps=5, x_guidance=1, x_guidance_scale=0.05, follow=3
    )
    np.testing.assert_allclose(followed, plain, atol=1e-4)  # the first basis is b itself: the same step
    with pytest.raises(InvalidParameterError, match="give x_guidance"):
        pipe.edit(xt=xt, v=b.v[0], strengths=[2.0], t=0.5, steps=5, follow=3)
    with pytest.raises(InvalidParameterError, match="is zero"):
        pipe.guidance_path(xt=xt, v=torch.zeros_like(b.v[0]), t=0.5, steps=5)
    with pytest.raises(InvalidParameterError, match="give a direction"):
        pipe.guidance_path(xt=xt, t=0.5, steps=5)

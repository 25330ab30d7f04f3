"""Jacobian SVD of PyTorch models, checked against full Jacobians written down by reverse mode."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

import svdlens as sl
from nets_models import AttentionNet, full_jacobian, mlp, small_unet
from svdlens.exceptions import ModelError, UnknownLayerError
from svdlens.nets import LocalBasis


@pytest.fixture(autouse=True)
def float64_default():
    """Float64 here, for tight comparisons with full Jacobians; restored for other test files."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def check_products(J, Jfull, x):
    V = torch.randn(x.numel(), 3, dtype=x.dtype, generator=torch.Generator().manual_seed(0))
    U = torch.randn(Jfull.shape[0], 2, dtype=x.dtype, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(J.matmat(V), Jfull @ V, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(J.rmatmat(U), Jfull.T @ U, rtol=1e-5, atol=1e-6)


def test_mlp_forward_mode_matches_full_jacobian():
    net = mlp()
    x = torch.randn(12)
    J = sl.jacobian(net, x)
    check_products(J, full_jacobian(net, x), x)
    assert J.jvp_mode == "forward" and J.shape == (5, 12)
    assert J.n_jvp == 3 and J.n_vjp == 2 and J.n_matvec == 5


@pytest.mark.parametrize("mode", ["forward", "double_vjp"])
def test_both_paths_agree_on_a_plain_model(mode):
    net = mlp()
    x = torch.randn(12)
    J = sl.jacobian(net, x, jvp_mode=mode)
    check_products(J, full_jacobian(net, x), x)
    assert J.jvp_mode == mode


@pytest.mark.parametrize("mode", ["auto", "double_vjp"])
def test_flash_attention_sdpa_on_cpu(mode):
    net = AttentionNet().float()  # float32: CPU picks the flash kernel by default
    x = torch.randn(1, 1, 6, 6, dtype=torch.float32)
    # The trap is real: plain forward AD through the default kernel fails ...
    with pytest.raises((NotImplementedError, RuntimeError), match="forward AD|not implemented"):
        torch.func.jvp(net, (x,), (torch.ones_like(x),))
    # ... and so does double backward; under svdlens both products work (MATH attention).
    J = sl.jacobian(net, x, jvp_mode=mode)
    Jfull = full_jacobian(net, x)
    V = torch.randn(x.numel(), 3, dtype=x.dtype)
    U = torch.randn(Jfull.shape[0], 2, dtype=x.dtype)
    torch.testing.assert_close(J.matmat(V), Jfull @ V, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(J.rmatmat(U), Jfull.T @ U, rtol=1e-4, atol=1e-4)
    assert J.jvp_mode == ("forward" if mode == "auto" else "double_vjp")


def test_diffusers_unet_runs_forward_mode_and_matches():
    """GroupNorm and attention go through forward-mode AD now (issue 15); both paths match the full Jacobian."""
    unet = small_unet().double()
    x = torch.randn(1, 1, 8, 8)
    g = sl.layer_map(unet, "mid_block", timestep=10)
    J = sl.jacobian(g, x)
    Jfull = full_jacobian(g, x)
    check_products(J, Jfull, x)
    assert J.jvp_mode == "forward"
    check_products(sl.jacobian(g, x, jvp_mode="double_vjp"), Jfull, x)
    b = sl.local_basis(g, x, k=4, tol=1e-8)
    s = torch.linalg.svdvals(Jfull)[:4]
    torch.testing.assert_close(b.s, s, rtol=1e-6, atol=0)
    assert b.converged and b.jvp_mode == "forward"


def test_local_basis_against_full_svd():
    net = AttentionNet().double()
    x = torch.randn(1, 1, 6, 6)
    b = sl.local_basis(net, x, k=5, tol=1e-10)
    Jfull = full_jacobian(net, x)
    U, S, Vt = torch.linalg.svd(Jfull, full_matrices=False)
    torch.testing.assert_close(b.s, S[:5], rtol=1e-8, atol=0)
    cos_v = (b.v.reshape(5, -1) * Vt[:5]).sum(1).abs()
    cos_u = (b.u.reshape(5, -1) * U[:, :5].T).sum(1).abs()
    torch.testing.assert_close(cos_v, torch.ones(5), atol=1e-8, rtol=0)
    torch.testing.assert_close(cos_u, torch.ones(5), atol=1e-8, rtol=0)
    assert b.u.shape == (5, 1, 4, 3, 3) and b.v.shape == (5, 1, 1, 6, 6)
    # J vᵢ = σᵢ uᵢ
    Jv = Jfull @ b.v.reshape(5, -1).T
    torch.testing.assert_close(Jv, b.u.reshape(5, -1).T * b.s, atol=1e-8, rtol=0)
    assert b.n_jvp > 0 and b.n_vjp > 0


def test_layer_map_stops_at_the_layer_and_names_near_misses():
    net = mlp()
    calls = []
    net[4].register_forward_hook(lambda *a: calls.append(1))
    out = sl.layer_map(net, "2")(torch.randn(12))
    assert out.shape == (8,) and calls == []  # the last layer never ran
    with pytest.raises(UnknownLayerError, match=r"no layer 'mid_blok'.*nearest: mid_block"):
        sl.layer_map(small_unet(), "mid_blok")


def test_model_state_is_restored_and_frozen_during():
    net = mlp().train()
    seen = []
    net[0].register_forward_hook(lambda m, i, o: seen.append((m.training, m.weight.requires_grad)))
    sl.local_basis(net, torch.randn(12), k=2)
    assert set(seen) == {(False, False)}
    assert net.training and all(p.requires_grad for p in net.parameters())


def test_bad_input():
    net = mlp()
    with pytest.raises(ValueError, match="not differentiable with respect to an x of dtype torch.int64"):
        sl.jacobian(net, torch.arange(12))
    with pytest.raises(ValueError, match="does not depend on x"):
        sl.jacobian(lambda x: net(x).detach(), torch.randn(12))
    with pytest.raises(ValueError, match="NaN or Inf"):
        sl.jacobian(lambda x: net(x) * float("nan"), torch.randn(12))
    with pytest.raises(ValueError, match=r"k=6 is more than min\(dim X, dim H\) = min\(12, 5\) = 5"):
        sl.local_basis(net, torch.randn(12), k=6)

    class Broken(torch.nn.Module):
        def forward(self, x):
            raise IndexError("channel 7 is out of range")

    with pytest.raises(
        ModelError, match=r"raised IndexError: channel 7 is out of range \(at .*test_nets.py:\d+ in forward\)"
    ):
        sl.jacobian(Broken(), torch.randn(3))


def test_save_load_and_cache(tmp_path):
    net = mlp()
    x = torch.randn(12)
    calls = []
    net[0].register_forward_hook(lambda *a: calls.append(1))
    b = sl.local_basis(net, x, k=3, cache_dir=tmp_path)
    n_calls = len(calls)
    again = sl.local_basis(net, x, k=3, cache_dir=tmp_path)
    assert len(calls) == n_calls  # loaded, not recomputed
    torch.testing.assert_close(again.v, b.v)
    assert again.key == b.key and again.n_jvp == b.n_jvp and again.converged == b.converged
    other = sl.local_basis(net, x + 1, k=3, cache_dir=tmp_path)
    assert other.key != b.key
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot read a local basis"):
        LocalBasis.load(tmp_path / "junk.safetensors")


def test_pullback_metric_and_projection():
    net = mlp()
    x = torch.randn(12)
    b = sl.local_basis(net, x, k=5, tol=1e-10)  # k = dim H: the rank-k metric is the whole metric
    Jfull = full_jacobian(net, x)
    G = Jfull.T @ Jfull
    W = torch.randn(12, 2)
    torch.testing.assert_close(b.pullback_metric().matmat(W), G @ W, atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(b.pullback_metric(exact=True).matmat(W), G @ W, atol=1e-8, rtol=1e-8)
    c, kept = b.project(b.v[1] * 3)
    torch.testing.assert_close(c, torch.tensor([0, 3.0, 0, 0, 0]), atol=1e-8, rtol=0)
    assert kept == pytest.approx(1.0)


def linear_basis(A, k):
    return sl.local_basis(lambda z: A @ z, torch.zeros(A.shape[1]), k=k, method="exact")


def test_transport_formula():
    torch.manual_seed(0)
    A = torch.randn(6, 9)
    B = A + 0.05 * torch.randn(6, 9)
    ba, bb = linear_basis(A, 6), linear_basis(B, 4)
    res = sl.transport(ba.u[0], bb)
    c = bb.u @ ba.u[0]
    v = (c / bb.s) @ bb.v
    torch.testing.assert_close(res.v, v / v.norm())
    assert res.kept == pytest.approx(float(c.norm()), rel=1e-10)
    # The transported step moves h along the projection of u (first order, exact for linear maps).
    dh = B @ res.v
    proj = c @ bb.u
    assert float(torch.nn.functional.cosine_similarity(dh, proj, dim=0)) == pytest.approx(1.0, abs=1e-10)
    # Onto itself, a direction comes back as its own v.
    same = sl.transport(ba.u[2], ba)
    assert abs(float(same.v @ ba.v[2])) == pytest.approx(1.0, abs=1e-10) and same.kept == pytest.approx(1.0)
    with pytest.raises(ValueError, match="u has 5 entries"):
        sl.transport(torch.ones(5), bb)


def test_transport_lsqr_is_damped_least_squares():
    # Oracle: the normal equations (JᵀJ + λ²I) x = Jᵀu solved by LAPACK, and numpy's pinv at λ = 0.
    torch.manual_seed(2)
    A, B = torch.randn(9, 6, dtype=torch.float64), torch.randn(9, 6, dtype=torch.float64)
    ba, bb = linear_basis(A, 6), linear_basis(B, 2)  # the target keeps only 2 of its 6 directions
    u, Bn = ba.u[0], B.numpy()
    for lam in (0.0, 0.5, float(bb.s[-1])):
        res = sl.transport(u, bb, method="lsqr", damp=lam)
        x = torch.as_tensor(np.linalg.solve(Bn.T @ Bn + lam**2 * np.eye(6), Bn.T @ u.numpy()))
        torch.testing.assert_close(res.v, x / x.norm(), atol=1e-8, rtol=0)
        assert res.kept == pytest.approx(float(torch.nn.functional.cosine_similarity(B @ x, u, dim=0)), rel=1e-8)
        assert res.gain == pytest.approx(float((B @ x).norm() / x.norm()), rel=1e-8)
    assert sl.transport(u, bb, method="lsqr").kept == pytest.approx(  # default λ = σ'_k
        sl.transport(u, bb, method="lsqr", damp=float(bb.s[-1])).kept, rel=1e-12
    )
    exact = sl.transport(u, bb, method="lsqr", damp=0.0)
    P = B @ torch.linalg.pinv(B)  # projector onto the range of B: 6 of the 9 dimensions
    assert exact.kept == pytest.approx(float((P @ u).norm()), rel=1e-8)
    # Less damping carries more of u through weaker directions: kept rises, gain falls.
    damped = sl.transport(u, bb, method="lsqr")
    assert exact.kept > damped.kept and exact.gain < damped.gain
    # The rank-2 projection keeps less than the exact solve; with the target's whole basis they agree.
    projected = sl.transport(u, bb)
    assert projected.kept < exact.kept
    assert projected.gain == pytest.approx(float((B @ projected.v).norm()), rel=1e-10)
    full = sl.transport(u, linear_basis(B, 6))
    torch.testing.assert_close(full.v, exact.v, atol=1e-8, rtol=0)


def test_transport_lsqr_needs_a_jacobian_and_checks_its_input():
    B = torch.randn(9, 6, dtype=torch.float64)
    bb = linear_basis(B, 2)
    stored = dataclasses.replace(bb, jacobian=None)  # as a basis read back from disk
    with pytest.raises(ValueError, match="loaded from disk"):
        sl.transport(bb.u[0], stored, method="lsqr")
    given = sl.transport(
        bb.u[0], stored, method="lsqr", jacobian=sl.jacobian(lambda z: B @ z, torch.zeros(6, dtype=torch.float64))
    )
    assert given.kept == pytest.approx(1.0)  # u₀ of the target itself lies in its range
    with pytest.raises(ValueError, match="the Jacobian has shape"):
        sl.transport(
            bb.u[0],
            stored,
            method="lsqr",
            jacobian=sl.jacobian(lambda z: B[:, :5] @ z, torch.zeros(5, dtype=torch.float64)),
        )
    with pytest.raises(ValueError, match="method must be one of"):
        sl.transport(bb.u[0], bb, method="exact")
    with pytest.raises(ValueError, match="iterations must be a positive"):
        sl.transport(bb.u[0], bb, method="lsqr", iterations=0)
    with pytest.raises(ValueError, match="damp must be a finite number"):
        sl.transport(bb.u[0], bb, method="lsqr", damp=-1.0)
    with pytest.raises(ValueError, match="NaN or Inf"):
        sl.transport(torch.full((9,), float("nan"), dtype=torch.float64), bb)


def test_global_directions_is_the_grassmann_mean():
    torch.manual_seed(1)
    bases = [linear_basis(torch.randn(7, 5), 3) for _ in range(4)]
    g = sl.global_directions(bases, 2)
    P = sum(b.u.T @ b.u for b in bases) / 4
    evals, evecs = torch.linalg.eigh(P)
    top = evecs[:, -2:]
    torch.testing.assert_close((g @ top).abs().sum(1).clamp(max=1), torch.ones(2), atol=1e-6, rtol=0)
    assert torch.linalg.matrix_norm(g @ g.T - torch.eye(2)) < 1e-10


def test_weight_directions():
    torch.manual_seed(0)
    lin = torch.nn.Linear(6, 4)
    V, lam = sl.weight_directions(lin, k=3, return_values=True)
    W = lin.weight.detach()
    evals, evecs = torch.linalg.eigh(W.T @ W)
    torch.testing.assert_close(lam, evals.flip(0)[:3], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close((V @ evecs.flip(1)[:, :3]).abs().diagonal(), torch.ones(3), atol=1e-5, rtol=0)
    conv = torch.nn.Conv2d(3, 5, 3)
    assert sl.weight_directions(conv.weight, k=4).shape == (4, 3, 3, 3)
    stack = sl.weight_directions([lin.weight, lin.weight * 2], k=2, return_values=True)[1]
    torch.testing.assert_close(stack, 5 * evals.flip(0)[:2].to(stack.dtype), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="share their input side"):
        sl.weight_directions([lin.weight, torch.ones(2, 3)], k=1)


def test_exact_basis_of_a_function_whose_weights_require_grad():
    W = torch.randn(4, 3, requires_grad=True, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "requires_grad to a scalar" warning either
        b = sl.local_basis(lambda x: W @ x, torch.ones(3), k=2, method="exact")
    np.testing.assert_allclose(b.s.numpy(), np.linalg.svd(W.detach().numpy(), compute_uv=False)[:2], rtol=1e-6)
    assert not b.s.requires_grad and not b.v.requires_grad and float(b.residuals.max()) < 1e-5

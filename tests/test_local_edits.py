"""Local edits (LOCO Edit): the x̂0 map against diffusers, masks, the nullspace projection, diagnostics, metrics.

Oracles: diffusers' own ``DDIMScheduler.step(...).pred_original_sample`` for x̂0 under each
prediction type; a full Jacobian (``torch.func.jacrev``) of a tiny U-Net for the leakage and the
linearity ratio; scikit-image's ``structural_similarity`` for SSIM.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from svdlens.diffusion._evaluate import edit_metrics
from svdlens.diffusion._local import (
    X0Map,
    image_mask,
    leakage,
    linearity,
    local_directions,
    model_mask,
    project_out,
    rank_profile,
)
from svdlens.exceptions import InvalidParameterError


@pytest.fixture(scope="module")
def unet():
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    model = UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    ).eval()
    return model.requires_grad_(False)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_the_x0_map_is_diffusers_pred_original_sample(unet, prediction_type):
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler(num_train_timesteps=1000, prediction_type=prediction_type, clip_sample=False)
    scheduler.set_timesteps(50)
    timestep = int(scheduler.timesteps[20])
    x = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    f = X0Map(unet, float(scheduler.alphas_cumprod[timestep]), timestep, prediction_type)
    with torch.no_grad():
        ours = f(x)
        theirs = scheduler.step(unet(x, timestep).sample, timestep, x, eta=0.0).pred_original_sample
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    mask = image_mask((2, 1, 5, 4), 8, 8)
    inside = f.restricted(torch.from_numpy(np.flatnonzero(mask)))
    with torch.no_grad():
        torch.testing.assert_close(inside(x), theirs.flatten(-2)[..., np.flatnonzero(mask)])


@pytest.mark.parametrize(
    "mask, words",
    [
        ((0, 0, 0, 4), "x0 < x1"),
        ((-1, 0, 4, 4), "must lie in the 8×8 image"),
        ((0, 0, 9, 4), "must lie in the 8×8 image"),
        ((0.5, 0, 4, 4), "four whole pixel numbers"),
        (np.zeros((8, 8), bool), "the mask is empty"),
        (np.ones((8, 8), bool), "covers the whole image"),
        (np.zeros((7, 8), bool), "must be 8×8"),
        (np.full((8, 8), 0.5), "only 0 and 1"),
    ],
)
def test_bad_masks_get_clear_errors(mask, words):
    with pytest.raises(InvalidParameterError, match=words):
        image_mask(mask, 8, 8)


def test_a_mask_in_image_pixels_shrinks_to_the_latent():
    big = image_mask((8, 8, 24, 16), 32, 32)  # a 16×8 box in a 32×32 image
    small = model_mask(big, 4)  # an 8× smaller latent
    assert small.shape == (4, 4) and small.sum() == 2 and small[1, 1] and small[1, 2]
    with pytest.raises(InvalidParameterError, match="covers no pixel of the model's 4×4 latent"):
        model_mask(image_mask((0, 0, 2, 2), 32, 32), 4)


def test_the_projection_leaves_directions_orthogonal_to_the_outside_ones():
    rng = np.random.default_rng(0)
    outside = torch.from_numpy(np.linalg.qr(rng.standard_normal((50, 5)))[0].T.copy()).float()  # 5 orthonormal rows
    v = torch.from_numpy(rng.standard_normal((3, 50))).float()
    p = project_out(v, outside)
    assert float((p @ outside.T).abs().max()) < 1e-6
    torch.testing.assert_close(p.norm(dim=1), torch.ones(3))
    with pytest.raises(InvalidParameterError, match="direction 1 lies in the span"):
        project_out(outside[:1] * 2, outside)


def _full_jacobian(f, x):
    return torch.func.jacrev(f)(x).reshape(f(x).numel(), x.numel())


def _x0_map(model, timestep=600):
    from diffusers import DDIMScheduler

    return X0Map(model, float(DDIMScheduler(num_train_timesteps=1000).alphas_cumprod[timestep]), timestep, "epsilon")


def _box_case(unet):
    """The x̂0 map at t = 600, an x_t and a box: the case the full-Jacobian tests share."""
    x = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    return _x0_map(unet), x, image_mask((2, 2, 6, 5), 8, 8)


def _leakage_of(J, V, mask):
    """‖(J v)⊙(1−M)‖ / ‖J v‖ for the columns v of V, from the dense Jacobian."""
    Jv = J @ V
    return Jv[np.flatnonzero(~mask)].norm(dim=0) / Jv.norm(dim=0)


def _top_eigenpairs(J, weights, k):
    """The oracle of the contrast directions: LAPACK's eigh of the dense Jᵀ diag(weights) J, top k first."""
    theta, W = torch.linalg.eigh(J.T @ (weights[:, None] * J))
    return theta.flip(0)[:k], W.flip(1)[:, :k]


def test_local_directions_against_a_full_jacobian(unet):
    f, x, mask = _box_case(unet)
    ld = local_directions(f, x, mask, k=3, r=4, t=0.6, steps=50, basis_options={"tol": 1e-6})
    v, leak, leak_before, inside, outside = ld.v, ld.leakage, ld.leakage_before, ld.inside, ld.outside
    J = _full_jacobian(f, x)
    flat_in, flat_out = np.flatnonzero(mask), np.flatnonzero(~mask)
    s_in = torch.linalg.svdvals(J[flat_in])[:3]
    torch.testing.assert_close(inside.s, s_in, rtol=1e-4, atol=1e-5)
    V_out = torch.linalg.svd(J[flat_out])[2][:4]
    assert float((v.reshape(3, -1) @ V_out.T).abs().max()) < 1e-5  # orthogonal to the true outside directions
    expected = _leakage_of(J, v.reshape(3, -1).T, mask)
    torch.testing.assert_close(leak, expected, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(leakage(f, x, v, mask), expected, rtol=1e-4, atol=1e-6)
    assert float(leak.mean()) < float(leak_before.mean())  # projecting out the outside directions helps
    assert inside.converged and outside is not None and outside.converged


def test_contrast_directions_are_the_eigenvectors_of_a_full_jacobians_weighted_gram(unet):
    f, x, mask = _box_case(unet)
    J = _full_jacobian(f, x).double()
    weights = {}
    for mu in (1.0, 16.0):
        ld = local_directions(
            f, x, mask, k=3, r=None, t=0.6, steps=50, basis_options={"tol": 1e-5}, method="contrast", outside_weight=mu
        )
        theta, W = _top_eigenpairs(J, torch.from_numpy(np.where(mask.ravel(), 1.0, -mu)), 3)
        torch.testing.assert_close(ld.contrast.values, theta, rtol=1e-4, atol=1e-6)
        V = ld.v.reshape(3, -1).double()
        torch.testing.assert_close((V @ W).abs(), torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-3)
        assert ld.contrast.converged and float(ld.contrast.residuals.max()) <= 1e-5 and ld.converged
        assert ld.outside is None and ld.r == 0 and ld.method == "contrast" and set(ld.residuals) == {
            "inside", "outside", "contrast"
        }  # fmt: skip
        torch.testing.assert_close(ld.leakage.double(), _leakage_of(J, V.T, mask), rtol=1e-4, atol=1e-6)
        weights[mu] = float(ld.leakage[0])
        assert V[0, int(V[0].abs().argmax())] > 0  # the sign rule
    assert weights[16.0] < weights[1.0]  # a higher price on the outside leaks less
    with pytest.raises(InvalidParameterError, match="leave r out"):
        local_directions(f, x, mask, k=1, r=2, t=0.6, steps=50, basis_options={"tol": 1e-3}, method="contrast")
    with pytest.raises(InvalidParameterError, match="outside_weight"):
        local_directions(
            f, x, mask, k=1, r=None, t=0.6, steps=50, basis_options={"tol": 1e-3}, method="contrast", outside_weight=0
        )
    with pytest.raises(InvalidParameterError, match="method must be one of"):
        local_directions(f, x, mask, k=1, r=None, t=0.6, steps=50, basis_options={"tol": 1e-3}, method="eig")


def test_contrast_directions_restart_over_channels_and_give_up_cleanly(monkeypatch):
    from diffusers import UNet2DModel

    import svdlens.diffusion._local as local
    from svdlens.exceptions import SvdlensError

    torch.manual_seed(1)
    two = UNet2DModel(  # two channels, d = 128: more than the Lanczos basis, so ARPACK restarts
        sample_size=8, in_channels=2, out_channels=2, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4,
    ).eval().requires_grad_(False)  # fmt: skip
    f = _x0_map(two)
    x = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(3))
    mask = image_mask((1, 2, 5, 6), 8, 8)
    monkeypatch.setattr(local, "CONTRAST_BASIS", 24)
    v, found = local.contrast_directions(f, x, mask, k=3, weight=4.0, tol=1e-6)
    J = _full_jacobian(f, x).double()
    w = torch.from_numpy(np.where(np.broadcast_to(mask, (2, 8, 8)).ravel(), 1.0, -4.0))  # each channel masked alike
    theta, W = _top_eigenpairs(J, w, 3)
    torch.testing.assert_close(found.values, theta, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(
        (v.reshape(3, -1).double() @ W).abs(), torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-3
    )
    assert found.converged and found.n_products > 2 * 24  # more products than one Lanczos pass: it restarted
    monkeypatch.setattr(local, "MAX_CONTRAST_PRODUCTS", 2 * 24)  # one restart at most
    with pytest.raises(SvdlensError, match="did not converge after"):
        local.contrast_directions(f, x, mask, k=3, weight=4.0, tol=1e-12)


def test_linearity_is_one_for_small_steps_and_measured_for_large(unet):
    f = _x0_map(unet, 500)
    x = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    v = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    lin = linearity(f, x, v, [1e-3, -1e-3, 30.0])
    assert np.allclose(lin.ratio[:2], 1, atol=1e-2) and np.allclose(lin.cosine[:2], 1, atol=1e-3)
    J = _full_jacobian(f, x)
    u = (v / v.norm()).reshape(-1)
    assert lin.jv_norm == pytest.approx(float((J @ u).norm()), rel=1e-4)
    with torch.no_grad():
        delta = (f(x + 30.0 * u.reshape(x.shape)) - f(x)).flatten()
    assert lin.ratio[2] == pytest.approx(float(delta.norm() / (30.0 * (J @ u).norm())), rel=1e-4)
    with pytest.raises(InvalidParameterError, match="nonzero step sizes"):
        linearity(f, x, v, [0.0])


def test_rank_profile_counts_singular_values_above_tau():
    from svdlens.nets import LocalBasis

    def basis(s):
        s = torch.tensor(s)
        return LocalBasis(
            u=torch.zeros(len(s), 1), s=s, v=torch.zeros(len(s), 1), residuals=torch.zeros(len(s)),
            n_jvp=0, n_vjp=0, converged=True,
        )  # fmt: skip

    p = rank_profile([basis([10.0, 5.0, 0.5]), basis([4.0, 3.9, 3.8])], [0.3, 0.9], tau=0.1, dim=64)
    assert p.rank.tolist() == [2, 3] and p.at_least.tolist() == [False, True]
    assert p.share.tolist() == [2 / 64, 3 / 64]


def test_edit_metrics_against_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(5)
    before = rng.random((24, 24))
    after = before.copy()
    after[6:14, 8:16] += 0.2 * rng.random((8, 8))
    after[20:, :4] += 0.01  # a little leakage
    mask = image_mask((8, 6, 16, 14), 24, 24)
    m = edit_metrics(before, after, mask)
    assert m.ssim == pytest.approx(structural_similarity(before, after, data_range=1.0), abs=1e-12)
    delta = after - before
    assert m.leakage == pytest.approx(np.linalg.norm(delta[~mask]) / np.linalg.norm(delta))
    assert m.mse_inside == pytest.approx((delta[mask] ** 2).mean()) and m.mse_outside == pytest.approx(
        (delta[~mask] ** 2).mean()
    )
    assert m.ssim_outside > m.ssim_inside  # the edit is inside
    colour = edit_metrics(np.stack([before] * 3), np.stack([after] * 3), mask)  # (c, h, w) images
    assert colour.leakage == pytest.approx(m.leakage) and colour.ssim == pytest.approx(m.ssim, abs=1e-9)
    with pytest.raises(InvalidParameterError, match="one shape"):
        edit_metrics(before, after[:-1], mask)


# ----------------------------------------------------------------------------- through the pipeline
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import svdlens as sl
    from tiny_pipelines import tiny_ddim, tiny_stable_diffusion

    root = tmp_path_factory.mktemp("local")
    return sl.diffusion.load(tiny_ddim(root / "ddim")), sl.diffusion.load(tiny_stable_diffusion(root / "sd"))


def test_the_pipelines_x0_map_is_its_schedulers_pred_original_sample(tiny):
    pipe = tiny[0]
    grid = pipe._schedule.grid(0.6, 10)
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    f = pipe.x0_map(0.6, 10)
    from diffusers import DDIMScheduler

    assert pipe.scheduler.config.clip_sample  # diffusers clips x̂0 in its step; the map is the unclipped mean
    unclipped = DDIMScheduler.from_config({**pipe.scheduler.config, "clip_sample": False})
    unclipped.set_timesteps(10)
    with torch.no_grad():
        out = pipe.unet(x, grid.t_index).sample
        theirs = unclipped.step(out, grid.t_index, x, eta=0.0).pred_original_sample
        torch.testing.assert_close(f(x), theirs, rtol=1e-5, atol=1e-5)
        clipped = grid.sampler.step(out, grid.t_index, x, eta=0.0).pred_original_sample
        torch.testing.assert_close(f(x).clamp(-1, 1), clipped, rtol=1e-5, atol=1e-5)


def test_local_directions_on_a_pixel_and_a_latent_model(tiny):
    ddim, sd = tiny
    image = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    ld = ddim.local_directions(image, mask=(4, 4, 12, 10), t=0.6, k=2, r=3, steps=4, tol=1e-3)
    assert ld.v.shape == (2, 1, 3, 16, 16) and ld.leakage.shape == (2,) and ld.converged
    W = ld.outside.v.reshape(3, -1).double()
    assert float((ld.v.reshape(2, -1).double() @ W.T).abs().max()) < 1e-6  # the projection, through the pipeline
    grid = ddim.edit(image, ld.v[0], strengths=[0, 2], t=0.6, steps=4)  # edits take them like any direction
    assert grid.shape == (2, 3, 16, 16)
    latent = sd.local_directions(np.random.default_rng(1).random((3, 32, 32)), mask=(0, 0, 16, 16), k=1, r=1, steps=2)
    assert latent.mask.shape == (16, 16) and latent.mask.sum() == 64  # the image box, halved to the latent
    with pytest.raises(InvalidParameterError, match="covers no pixel of the model's 16×16 latent"):
        sd.local_directions(np.zeros((3, 32, 32)), mask=(0, 0, 1, 1), k=1, r=1, steps=2)
    with pytest.raises(InvalidParameterError, match="whole image"):
        ddim.local_directions(image, mask=np.ones((16, 16), bool), steps=4)


def test_the_diagnostics_run_on_the_pipeline(tiny):
    ddim = tiny[0]
    image = np.random.default_rng(2).random((3, 16, 16)).astype(np.float32)
    profile = ddim.rank_profile(image, ts=(0.3, 0.8), k=3, steps=4)
    assert profile.s.shape == (2, 3) and profile.rank.shape == (2,) and profile.converged.all()
    basis = ddim.directions(image, t=0.6, k=1, steps=4)
    lin = ddim.linearity(image, basis.v[0], t=0.6, lambdas=[1e-3, 1.0], steps=4)
    assert lin.ratio[0] == pytest.approx(1, abs=1e-2)
    norms = ddim.jacobian_norms(image, t=0.6, steps=4)
    assert set(norms) == {"x0", "h", "eps"} and all(v > 0 for v in norms.values())


def test_a_local_direction_travels_to_another_image_under_the_same_mask(tiny, monkeypatch):
    import svdlens as sl
    from svdlens.diffusion._local import _flat

    ddim = tiny[0]
    rng = np.random.default_rng(0)
    a, b = (rng.random((3, 16, 16)).astype(np.float32) for _ in range(2))
    box = (4, 4, 12, 10)
    src = ddim.local_directions(a, mask=box, t=0.6, k=2, r=3, steps=4, tol=1e-4)
    dst = ddim.local_directions(b, mask=box, t=0.6, k=2, r=3, steps=4, tol=1e-4)
    moved = ddim.transport(src, 0, [dst])[0]
    v = moved.v.reshape(-1).double()
    assert abs(float(v.norm()) - 1) < 1e-6
    assert float((dst.outside.v.reshape(3, -1).double() @ v).abs().max()) < 1e-6  # off the target's outside
    # kept and gain against a JVP of x̂0 inside the mask at the target, computed apart from svdlens
    inside = ddim.x0_map(0.6, 4).restricted(_flat(dst.mask, dst.xt.device))
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):  # reverse mode twice (the double-VJP trick), by torch.autograd alone
        _, Jv = torch.autograd.functional.jvp(inside, dst.xt, moved.v.reshape(dst.xt.shape).to(dst.xt.dtype))
    Jv, u = Jv.reshape(-1).double(), src.inside.u[0].reshape(-1).double()
    assert moved.gain == pytest.approx(float(Jv.norm()), rel=1e-4)
    assert moved.kept == pytest.approx(float(Jv @ u / (Jv.norm() * u.norm())), abs=1e-4)
    # carried to its own image, direction 1 comes back as the image's own projected direction
    back = ddim.transport(src, 0, [src])[0]
    assert abs(float(back.v.reshape(-1) @ src.v[0].reshape(-1))) == pytest.approx(1, abs=1e-4)
    other = ddim.local_directions(b, mask=(2, 2, 8, 8), t=0.6, k=1, r=1, steps=4, tol=1e-2)
    with pytest.raises(InvalidParameterError, match="same mask"):
        ddim.transport(src, 0, [other])
    with pytest.raises(InvalidParameterError, match="local directions only"):
        ddim.transport(src, 0, [dst.inside])
    with pytest.raises(InvalidParameterError, match="local directions only"):
        ddim.transport(src, 0, [dst], method="lsqr")
    contrast = ddim.local_directions(b, mask=box, t=0.6, k=1, steps=4, tol=1e-3, method="contrast")
    with pytest.raises(InvalidParameterError, match="contrast directions are not carried"):
        ddim.transport(src, 0, [contrast])
    with pytest.raises(InvalidParameterError, match="contrast directions are not carried"):
        ddim.transport(contrast, 0, [dst])
    # refused before the inversion
    monkeypatch.setattr(ddim, "_x_t32", lambda *a, **kw: pytest.fail("x_t was made before the settings were checked"))
    with pytest.raises(InvalidParameterError, match="outside_weight is the price of the outside"):
        ddim.local_directions(b, mask=box, steps=4, outside_weight=4)
    with pytest.raises(InvalidParameterError, match="leave r out"):
        ddim.local_directions(b, mask=box, steps=4, method="contrast", r=2)
    with pytest.raises(InvalidParameterError, match="outside_weight must be"):
        ddim.local_directions(b, mask=box, steps=4, method="contrast", outside_weight=-1)
    assert isinstance(moved, sl.nets.Transported)

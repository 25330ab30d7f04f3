"""Faithful DDIM inversion: fixed-point refinement of each step (AIDI, Pan et al. 2023; ReNoise, Garibi et al. 2024).

The oracle is the model's own sampling step: a refined inversion step reaches the x_s that the
sampler takes back to where the inversion started. The round trip image → x_t → image has a
PSNR floor on the built-in faces, with and without refinement, and the refinement helps on the
tiny Stable Diffusion with and without guidance.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import svdlens as sl
from svdlens.exceptions import InvalidParameterError


def _psnr(a, b) -> float:
    return float(np.mean([10 * np.log10(1 / np.mean((p - q) ** 2)) for p, q in zip(a, b)]))


@pytest.fixture(scope="module")
def builtin():
    """The real-face model: the figures of bench/inversion.py and docs/diffusion.md are its."""
    return sl.diffusion.load("builtin-lfw")


@pytest.mark.parametrize("which", [-1, 10])  # the first step up from x_0, and one from the middle
def test_a_refined_step_is_undone_by_the_sampler(builtin, which):
    import dataclasses

    pipe = builtin
    grid = pipe._schedule.grid(1.0, 20)
    s = grid.timesteps[which]
    one_step = dataclasses.replace(grid, timesteps=(s,))  # invert() climbs just this step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        faces = sl.faces.builtin()[:2]
        x = pipe.encode(faces)
    errors = []
    for refine in (0, 1, 3, 8):
        z = pipe._ddim.invert(faces, one_step, prompt=None, negative_prompt=None, guidance_scale=1.0, refine=refine)
        back = grid.down(pipe.model_output(z, s), s, z)  # the sampler's own step from z
        errors.append(float((back - x).abs().max()))
    assert all(b < a for a, b in zip(errors, errors[1:])) and errors[3] < 0.1 * errors[0], errors


def test_the_round_trip_of_the_built_in_faces_has_a_psnr_floor(builtin):
    faces = sl.faces.builtin()[:4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 25×25 faces are resized to 32×32
        target = builtin.to_images(builtin.encode(faces))
        plain = builtin.generate(builtin.invert(faces, t=1.0, steps=50, refine=0), t=1.0, steps=50)
        refined = builtin.generate(builtin.invert(faces, t=1.0, steps=50), t=1.0, steps=50)  # the default: 1
    assert _psnr(plain, target) >= 24  # measured 24.9 dB on these 4 (27.7 on 8; with x̂0 clipping 2 dB less)
    assert _psnr(refined, target) >= 40  # measured 49.5 dB (target ≥ 30)


def test_plain_inversion_is_diffusers_inverse_scheduler_without_clipping(builtin):
    """refine=0 on a pixel model whose config clips x̂0: DDIMInverseScheduler with clip_sample off.

    The sampler keeps the model's clipping; inversion drops it, which is the whole difference
    from diffusers' scheduler made from the same config.
    """
    import torch
    from diffusers import DDIMInverseScheduler

    assert builtin.scheduler.config.clip_sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        faces = sl.faces.builtin()[:2]
        x0 = builtin.encode(faces)
    ours = builtin.invert(faces, t=1.0, steps=10, refine=0)  # clipping bites at large t
    results = {}
    for clip in (False, True):
        inverse = DDIMInverseScheduler.from_config({**builtin.scheduler.config, "clip_sample": clip})
        inverse.set_timesteps(10)
        x = x0.clone()
        with torch.no_grad():
            for s in inverse.timesteps:
                x = inverse.step(builtin.unet(x, s).sample, s, x).prev_sample
        results[clip] = x
    torch.testing.assert_close(ours, results[False], atol=1e-5, rtol=1e-5)
    assert float((ours - results[True]).abs().max()) > 1e-3  # the clipping does change it


@pytest.mark.parametrize("guidance", [1.0, 3.0])
def test_refinement_helps_on_a_latent_text_model(tmp_path_factory, guidance):
    from tiny_pipelines import tiny_stable_diffusion

    sd = sl.diffusion.load(tiny_stable_diffusion(tmp_path_factory.mktemp("sd") / "sd"))
    image = np.random.default_rng(0).random((1, 3, 32, 32)).astype(np.float32)
    target = sd.encode(image)
    errors = []
    for refine in (0, 3):
        xt = sd.invert(image, t=0.5, steps=10, prompt="a face", guidance_scale=guidance, refine=refine)
        grid = sd._schedule.grid(0.5, 10)
        cond = sd._ddim.sampling_conditioning("a face", None, guidance)
        back = sd._ddim.walk(xt, grid.timesteps, grid, cond)
        errors.append(float((back - target).norm() / target.norm()))
    assert errors[1] < errors[0]


def test_refine_is_checked(builtin):
    with pytest.raises(InvalidParameterError, match="refine"):
        builtin.invert(np.zeros((32, 32)), t=0.5, steps=5, refine=-1)
    with pytest.raises(InvalidParameterError, match="refine"):
        builtin.invert(np.zeros((32, 32)), t=0.5, steps=5, refine=1000)


def test_a_diverging_refinement_stops_at_its_better_iterate(builtin, monkeypatch):
    """With a step 50 times too long the iteration runs away; each sample keeps its best iterate, finite."""
    from svdlens.diffusion._ddim import DDIM

    faces = sl.faces.builtin()[:3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = builtin.invert(faces, t=0.5, steps=10, refine=0)
        monkeypatch.setattr(DDIM, "_refine_scale", staticmethod(lambda grid, s: 50.0))
        guarded = builtin.invert(faces, t=0.5, steps=10, refine=3)
    assert bool(guarded.isfinite().all())
    np.testing.assert_array_equal(guarded.numpy(), plain.numpy())  # every bigger step was undone

"""The pipeline's parts: one DDIM grid per call, no shared scheduler state, start points, batched
sampling under a memory budget, latents of other sizes, the one model cache, the CLI's model flags.

The models are the tiny random folders of ``tiny_pipelines`` (nothing downloaded); the oracles
are diffusers' own pipelines, a single big batch, and sums of known tensor sizes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import svdlens as sl
from svdlens.cli import app
from svdlens.diffusion._ddim import SAMPLE_FIXED, SAMPLE_PER_IMAGE
from svdlens.diffusion._modules import peak_bytes, quiet_loading
from svdlens.diffusion._schedule import Schedule
from svdlens.exceptions import SvdlensError
from tiny_pipelines import tiny_ddim, tiny_stable_diffusion

PROMPT = "a photo of the face"


@pytest.fixture(scope="module")
def ddim_dir(tmp_path_factory):
    return tiny_ddim(tmp_path_factory.mktemp("ddim") / "pipe")


@pytest.fixture(scope="module")
def pipe(ddim_dir):
    return sl.diffusion.load(ddim_dir)


@pytest.fixture(scope="module")
def sd_dir(tmp_path_factory):
    return tiny_stable_diffusion(tmp_path_factory.mktemp("sd") / "pipe")


@pytest.fixture
def grids(monkeypatch):
    """The (t, steps) of every grid made, in order."""
    made = []
    original = Schedule.grid

    def counted(self, t, steps):
        made.append((t, steps))
        return original(self, t, steps)

    monkeypatch.setattr(Schedule, "grid", counted)
    return made


# ----------------------------------------------------------------------------- the grid
def test_each_call_makes_one_grid(pipe, grids):
    image = pipe.sample(n=1, seed=0, steps=3)
    calls = {
        "sample": lambda: pipe.sample(n=2, seed=1, steps=4),
        "invert": lambda: pipe.invert(image, t=0.5, steps=4),
        "generate": lambda: pipe.generate(pipe.noise(1), t=0.5, steps=4),
        "noisy_sample": lambda: pipe.noisy_sample(2, t=0.5, steps=4),
        "start_point(seed)": lambda: pipe.start_point(seed=2, t=0.5, steps=4),
        "directions(image)": lambda: pipe.directions(image, t=0.5, k=2, steps=4),
        "directions(seed)": lambda: pipe.directions(seed=2, t=0.5, k=2, steps=4),
        "edit(image)": lambda: pipe.edit(image, torch.ones(3, 16, 16), [-1, 0, 1], t=0.5, steps=4),
    }
    for name, call in calls.items():
        grids.clear()
        call()
        assert len(grids) == 1, f"{name} made {len(grids)} grids"


def test_calls_leave_the_shared_schedulers_alone(pipe):
    before = pipe.scheduler.timesteps.clone(), pipe.inverse_scheduler.timesteps.clone()
    pipe.sample(n=1, steps=3)
    pipe.invert(pipe.sample(n=1, steps=2), t=0.5, steps=7)
    assert pipe.scheduler.num_inference_steps is None and pipe.inverse_scheduler.num_inference_steps is None
    assert torch.equal(pipe.scheduler.timesteps, before[0]) and torch.equal(pipe.inverse_scheduler.timesteps, before[1])


def test_interleaved_calls_with_other_steps_give_what_separate_calls_give(pipe):
    """Two walks with different step counts, advanced in turn, are the walks run one after the other."""
    x = pipe.noise(1, seed=5)
    alone = {steps: [s.clone() for _, s in pipe.denoise_states(x, 1.0, steps)] for steps in (3, 7)}
    walks = {steps: pipe.denoise_states(x, 1.0, steps) for steps in (3, 7)}
    together: dict[int, list] = {3: [], 7: []}
    for _ in range(7):
        for steps, walk in walks.items():
            state = next(walk, None)
            if state is not None:
                together[steps].append(state[1])
    for steps in (3, 7):
        assert len(together[steps]) == steps
        for a, b in zip(alone[steps], together[steps]):
            assert torch.equal(a, b)
    # Whole calls in between change nothing either.
    first = pipe.sample(n=2, seed=2, steps=3)
    pipe.sample(n=1, seed=2, steps=9)
    pipe.invert(first, t=0.7, steps=5)
    np.testing.assert_array_equal(pipe.sample(n=2, seed=2, steps=3), first)


# ----------------------------------------------------------------------------- start points
def test_start_points_are_the_walks_they_stand_for(pipe):
    point = pipe.start_point(seed=4, t=0.5, steps=6)
    torch.testing.assert_close(point.xt, pipe.noisy_sample(4, t=0.5, steps=6), atol=0, rtol=0)
    np.testing.assert_allclose(point.image, pipe.sample(n=1, seed=4, steps=6), atol=1e-6)
    assert (point.t, point.steps, point.seed) == (0.5, 6, 4)
    assert pipe.start_point(seed=4, t=0.5, steps=6, with_image=False).image is None
    image = point.image[0]
    from_image = pipe.start_point(image, t=0.5, steps=6)
    torch.testing.assert_close(from_image.xt, pipe.invert(image, t=0.5, steps=6), atol=0, rtol=0)
    np.testing.assert_array_equal(from_image.image, image[None])
    assert pipe.start_point(xt=point.xt, t=0.5, steps=6).image is None
    for given in ({}, {"image": image, "seed": 1}, {"seed": 1, "xt": point.xt}):
        with pytest.raises(SvdlensError, match="give exactly one of an image, a seed and xt"):
            pipe.start_point(**given, t=0.5, steps=6)
    with pytest.raises(SvdlensError, match=r"xt must be \(n, 3, h, w\)"):
        pipe.start_point(xt=torch.zeros(1, 1, 16, 16), t=0.5, steps=6)


# ----------------------------------------------------------------------------- memory
def test_peak_bytes_counts_what_lives_at_once():
    a = torch.ones(1000, 1000)  # 4 MB, resident
    # a * 2 is alive while (a * 2) + 1 is made: two 4 MB results at once, then one.
    assert peak_bytes(lambda: (a * 2) + 1, [a]) == 2 * 4_000_000
    # Views share their base's storage: counted once.
    assert peak_bytes(lambda: (a * 2).reshape(-1)[::2].sum(), [a]) == 4_000_000 + 4
    conv = torch.nn.Conv2d(3, 8, 3, padding=1).requires_grad_(False)
    one, four = torch.ones(1, 3, 32, 32), torch.ones(4, 3, 32, 32)
    weights = [*conv.parameters()]
    with torch.no_grad():
        assert peak_bytes(lambda: conv(four), [*weights, four]) == 4 * peak_bytes(lambda: conv(one), [*weights, one])


def test_sample_batches_within_the_budget_and_gives_the_same_images(pipe, monkeypatch):
    seen = []
    hook = pipe.unet.register_forward_pre_hook(lambda module, args: seen.append(len(args[0])))
    try:
        whole = pipe.sample(n=5, seed=3, steps=3, max_memory=None)
        assert seen == [5, 5, 5]
        x1 = pipe.noise(1)
        resident = [*pipe.unet.parameters(), *pipe.unet.buffers(), x1]
        one = peak_bytes(lambda: pipe.model_output(x1, 500), resident)
        seen.clear()
        two_at_a_time = pipe.sample(n=5, seed=3, steps=3, max_memory=(SAMPLE_FIXED + 2.5 * SAMPLE_PER_IMAGE) * one)
    finally:
        hook.remove()
    # 3 steps of batches of 2, 2 and 1, after the one-sample measurement (unless an earlier call made it)
    assert seen[-9:] == [2, 2, 2, 2, 2, 2, 1, 1, 1] and seen[:-9] in ([], [1])
    np.testing.assert_allclose(two_at_a_time, whole, atol=1e-5)
    np.testing.assert_allclose(pipe.sample(n=5, seed=3, steps=3, max_memory=1), whole, atol=1e-5)  # 1 at a time
    with pytest.raises(SvdlensError, match="max_memory must be"):
        pipe.sample(n=2, steps=2, max_memory="lots")


def test_a_latent_model_sizes_its_batches_by_the_guided_unet_and_the_vae(sd_dir):
    sd = sl.diffusion.load(sd_dir)
    one = sd.noise(1)
    cond = sd.conditioning(PROMPT, None, 7.5)  # sampling's default guidance: the U-Net runs [negative, prompt]
    unet = peak_bytes(lambda: sd.model_output(one, 500, cond), [*sd.unet.parameters(), *sd.unet.buffers(), one])
    vae = peak_bytes(lambda: sd.to_images(one), [*sd.vae.parameters(), *sd.vae.buffers(), one])
    budget = (SAMPLE_FIXED + 3.5 * SAMPLE_PER_IMAGE) * max(unet, vae)
    x = sd.noise(7)
    seen = []
    hook = sd.unet.register_forward_pre_hook(lambda module, args: seen.append(len(args[0])))
    try:
        batched = sd.sample(latents=x, steps=2, prompt=PROMPT, max_memory=budget)
    finally:
        hook.remove()
    assert seen == [2, 6, 6, 6, 6, 2, 2]  # the guided measurement, then twice each batch of 3, 3, 1
    whole = sd.sample(latents=x, steps=2, prompt=PROMPT, max_memory=None)
    np.testing.assert_allclose(batched, whole, atol=1e-5)


# ----------------------------------------------------------------------------- latents
def test_latents_of_another_size_are_diffusers_images(sd_dir):
    from diffusers import StableDiffusionPipeline

    sd = sl.diffusion.load(sd_dir)
    with quiet_loading():
        ref = StableDiffusionPipeline.from_pretrained(sd_dir, safety_checker=None)
    ref.set_progress_bar_config(disable=True)
    latents = torch.randn(2, 4, 24, 20, generator=torch.Generator().manual_seed(1))  # not the config's 16×16
    theirs = ref(
        PROMPT, latents=latents.clone(), num_inference_steps=4, guidance_scale=3.0, num_images_per_prompt=2,
        output_type="np",
    ).images  # fmt: skip
    ours = sd.sample(latents=latents, steps=4, prompt=PROMPT, guidance_scale=3.0)
    assert ours.shape == (2, 3, 48, 40)
    np.testing.assert_allclose(ours, theirs.transpose(0, 3, 1, 2), atol=1e-4)
    odd = torch.randn(1, 4, 15, 17)  # diffusers' UNet2DConditionModel takes any size
    assert sd.sample(latents=odd, steps=2, prompt=PROMPT).shape == (1, 3, 30, 34)


def test_a_pixel_unet_takes_latents_that_halve_cleanly(pipe):
    x = torch.randn(1, 3, 24, 24, generator=torch.Generator().manual_seed(2))
    np.testing.assert_array_equal(pipe.sample(latents=x, steps=3), pipe.generate(x, t=1.0, steps=3))
    with pytest.raises(SvdlensError, match="multiples of 2"):
        pipe.sample(latents=torch.randn(1, 3, 15, 16), steps=3)
    with pytest.raises(SvdlensError, match="finite"):
        pipe.sample(latents=torch.full((1, 3, 16, 16), float("nan")), steps=3)
    with pytest.raises(SvdlensError, match="the limit is"):
        pipe.sample(latents=torch.zeros(1, 3, 1, 1).expand(1, 3, 4100, 4100), steps=3)  # a view: no memory


# ----------------------------------------------------------------------------- basis options
def test_basis_options_reach_the_local_basis(pipe):
    from svdlens.nets._jacobian import block_for_memory, parse_memory

    xt = pipe.noisy_sample(1, t=0.5, steps=4)
    b = pipe.directions(xt=xt, t=0.5, k=2, steps=4, max_memory="20MB", tol=1e-3)
    assert b.jacobian.max_block == block_for_memory(b.jacobian.graph_bytes, parse_memory("m", "20MB"))
    assert float(b.residuals.max()) <= 1e-3
    exact = pipe.directions(xt=xt, t=0.5, k=2, steps=4, method="exact")
    assert exact.method == "exact"
    np.testing.assert_allclose(b.s.numpy(), exact.s.numpy(), rtol=1e-3)
    with pytest.raises(TypeError):
        pipe.directions(xt=xt, t=0.5, k=2, steps=4, no_such_option=1)


# ----------------------------------------------------------------------------- load_cached
def test_load_cached_keys_on_source_device_and_dtype(ddim_dir, monkeypatch):
    from svdlens.diffusion import _cached

    monkeypatch.setattr(_cached, "_LOADED", {})
    a = sl.diffusion.load_cached(ddim_dir)
    monkeypatch.chdir(ddim_dir.parent)
    assert sl.diffusion.load_cached(ddim_dir.name, device="cpu", dtype=torch.float32) is a  # the same folder
    half = sl.diffusion.load_cached(ddim_dir, dtype="bfloat16")
    assert half is not a and half.unet.dtype == torch.bfloat16
    assert sl.diffusion.load_cached(ddim_dir, dtype="bfloat16") is half
    assert sl.diffusion.load_cached(ddim_dir) is not a  # only the last one is kept
    with pytest.raises(SvdlensError, match="no model folder"):
        sl.diffusion.load_cached("nowhere/at/all")


# ----------------------------------------------------------------------------- the command line
def test_the_model_flags_are_on_every_diffusion_command():
    import typer.main

    commands = typer.main.get_command(app).commands
    flags = ["--model", "--prompt", "--negative-prompt", "--guidance", "--device", "--dtype"]
    for name in ("directions", "edit", "transport", "sample"):
        options = {o for p in commands[name].params for o in p.opts}
        assert set(flags) <= options, name
        assert ("--layer" in options) == (name != "sample"), name
        assert ("--max-memory" in options) and (("--tol" in options) == (name != "sample")), name
    k = next(p for p in commands["directions"].params if p.name == "k")
    assert k.default == sl._defaults.DEFAULT_K
    help_text = CliRunner().invoke(app, ["directions", "--help"]).output
    assert "--cache-dir" in help_text and "--cache " not in help_text


def test_cli_basis_flags_and_the_old_cache_spelling(tmp_path, ddim_dir):
    runner = CliRunner()
    base = ["--model", str(ddim_dir), "--steps", "2", "--t", "0.5", "--quiet"]
    out = tmp_path / "d"
    res = runner.invoke(
        app, ["directions", *base, "--seed", "1", "-k", "2", "--tol", "1e-3", "--max-memory", "64MB", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["tol"], summary["max_memory"], summary["k"]) == (1e-3, "64MB", 2)
    assert max(summary["residuals"]) <= 1e-3
    for bad, message in ((["--tol", "0"], "--tol must be"), (["--max-memory", "lots"], "--max-memory must be")):
        res = runner.invoke(app, ["directions", *base, "--seed", "1", *bad, "--out", str(tmp_path / "x")])
        assert res.exit_code == 2 and message in res.output, res.output
    res = runner.invoke(app, ["directions", *base, "--seed", "1", "--cache", str(tmp_path / "c"), "--out", str(out)])
    assert res.exit_code == 2 and "--cache goes with --global" in res.output  # the old spelling, named as typed
    res = runner.invoke(app, ["sample", *base[:2], "--n", "3", "--max-memory", "1", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["max_memory"] == "1"


def test_the_demo_names_the_model_it_ran_on(tmp_path):
    from svdlens.report._demo import DemoSettings, _Context

    def name(model):
        return _Context(tmp_path, DemoSettings.fast(), tmp_path, model).model_name

    assert name("builtin") == "the built-in face-world DDPM"
    assert name("builtin-lfw") == "the built-in real-face DDPM"
    assert name(str(tmp_path / "my-ddpm")) == "the model my-ddpm"
    assert name("google/ddpm-celebahq-256") == "the model ddpm-celebahq-256"

"""Real diffusers pipelines, tiny and random: loading, the scheduler honoured, latents, prompts.

Every model here is built in the test from small configs of the real classes and saved as a
diffusers folder (safetensors); nothing is downloaded. The oracle is diffusers itself: its own
``DDIMPipeline`` and ``StableDiffusionPipeline`` on the same folder and the same starting noise.
"""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import svdlens as sl
from svdlens.cli import app
from svdlens.exceptions import InvalidParameterError, ModelLoadError, UnknownLayerError
from tiny_pipelines import tiny_ddim, tiny_stable_diffusion

PROMPT = "a photo of the face"


@pytest.fixture(scope="module")
def sd_dir(tmp_path_factory):
    return tiny_stable_diffusion(tmp_path_factory.mktemp("sd") / "pipe")


@pytest.fixture(scope="module")
def sd(sd_dir):
    return sl.diffusion.load(sd_dir)


@pytest.fixture(scope="module")
def face():
    return np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)


def _diffusers_pipeline(cls, folder):
    from svdlens.diffusion._modules import quiet_loading

    with quiet_loading():
        pipe = (
            cls.from_pretrained(folder, safety_checker=None)
            if "Stable" in cls.__name__
            else cls.from_pretrained(folder)
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe


# ----------------------------------------------------------------------------- loading
def test_stable_diffusion_folder_loads_as_a_latent_text_model(sd):
    assert sd.is_latent and sd.has_text
    assert (sd.channels, sd.size, sd.image_channels, sd.image_size) == (4, 16, 3, 32)
    assert type(sd.unet).__name__ == "UNet2DConditionModel" and type(sd.vae).__name__ == "AutoencoderKL"


@pytest.mark.parametrize(
    "settings",
    [
        {"prediction_type": "v_prediction", "clip_sample": True, "steps_offset": 1},
        {"prediction_type": "sample", "thresholding": True, "timestep_spacing": "trailing"},
        {"prediction_type": "epsilon", "clip_sample": False, "timestep_spacing": "linspace", "set_alpha_to_one": False},
    ],
    ids=["v-prediction", "sample+thresholding+trailing", "epsilon+linspace"],
)
def test_ddim_pipeline_equals_diffusers(tmp_path, settings):
    from diffusers import DDIMPipeline

    folder = tiny_ddim(tmp_path / "ddim", **settings)
    pipe = sl.diffusion.load(folder)
    ref = _diffusers_pipeline(DDIMPipeline, folder)
    theirs = ref(
        batch_size=2, generator=torch.Generator().manual_seed(3), num_inference_steps=7, output_type="np"
    ).images
    ours = pipe.generate(pipe.noise(2, seed=3), t=1.0, steps=7)
    np.testing.assert_allclose(ours, theirs.transpose(0, 3, 1, 2), atol=1e-4)
    np.testing.assert_array_equal(ours, pipe.sample(n=2, seed=3, steps=7))


def test_stable_diffusion_equals_diffusers_with_prompt_and_guidance(sd, sd_dir):
    from diffusers import StableDiffusionPipeline

    ref = _diffusers_pipeline(StableDiffusionPipeline, sd_dir)
    latents = sd.noise(2, seed=5)
    for guidance, negative in ((7.5, "blurry"), (1.0, None)):
        theirs = ref(
            PROMPT,
            negative_prompt=negative,
            latents=latents.clone(),
            num_inference_steps=6,
            guidance_scale=guidance,
            eta=0.0,
            num_images_per_prompt=2,
            output_type="np",
        ).images
        ours = sd.sample(latents=latents, steps=6, prompt=PROMPT, negative_prompt=negative, guidance_scale=guidance)
        np.testing.assert_allclose(ours, theirs.transpose(0, 3, 1, 2), atol=1e-4)


@pytest.mark.parametrize(
    ("n", "seed", "eta", "given", "max_memory"),
    [(2, 8, 1.0, True, None), (3, 3, 0.7, False, "1KB")],
    ids=["latents given", "x_T drawn, batches of one"],
)
def test_stochastic_stable_diffusion_equals_diffusers(sd, sd_dir, n, seed, eta, given, max_memory):
    """eta > 0: the seed's generator draws x_T (unless latents are given), then each step's noise, as in diffusers."""
    from diffusers import StableDiffusionPipeline

    ref = _diffusers_pipeline(StableDiffusionPipeline, sd_dir)
    latents = sd.noise(n, seed=5) if given else None
    common = {"prompt": PROMPT, "guidance_scale": 7.5, "eta": eta}
    theirs = ref(
        latents=None if latents is None else latents.clone(),
        num_inference_steps=4,
        generator=torch.Generator().manual_seed(seed),
        num_images_per_prompt=n,
        output_type="np",
        **common,
    ).images
    ours = sd.sample(n=n, seed=seed, steps=4, latents=latents, max_memory=max_memory, **common)
    np.testing.assert_allclose(ours, theirs.transpose(0, 3, 1, 2), atol=1e-4)
    deterministic = sd.sample(n=n, seed=seed, steps=4, latents=latents, prompt=PROMPT, guidance_scale=7.5)
    assert np.abs(ours - deterministic).max() > 1e-3


def test_inversion_is_diffusers_inverse_scheduler(sd, sd_dir, face):
    """invert() = diffusers' DDIMInverseScheduler on its own grid, the model evaluated as in DiffEdit's inversion."""
    from diffusers import DDIMInverseScheduler, StableDiffusionPipeline

    ref = _diffusers_pipeline(StableDiffusionPipeline, sd_dir)
    inverse = DDIMInverseScheduler.from_config(ref.scheduler.config)
    inverse.set_timesteps(10)
    assert [int(s) for s in inverse.timesteps] == sd.schedule(10)[::-1]
    text, _ = ref.encode_prompt(PROMPT, "cpu", 1, False)
    with torch.no_grad():
        x = ref.vae.encode(torch.as_tensor(face)[None] * 2 - 1).latent_dist.mean * ref.vae.config.scaling_factor
        for s in inverse.timesteps[:3]:  # t = 0.3: the timesteps 1, 101, 201
            x = inverse.step(ref.unet(x, s, encoder_hidden_states=text).sample, s, x).prev_sample
    plain = sd.invert(face[None], t=0.3, steps=10, prompt=PROMPT, refine=0)  # no fixed-point refinement
    torch.testing.assert_close(plain, x, atol=1e-5, rtol=1e-5)
    assert sd.t_index(0.3, 10) == 201


def test_noisy_sample_is_the_sampling_path_split_at_t(sd):
    xt = sd.noisy_sample(4, t=0.5, steps=6, prompt=PROMPT, guidance_scale=3.0)
    assert sd.t_index(0.5, 6) == 499  # the 6-step grid 1, 167, 333, 499, ...
    np.testing.assert_allclose(
        sd.generate(xt, t=0.5, steps=6, prompt=PROMPT, guidance_scale=3.0),
        sd.sample(n=1, seed=4, steps=6, prompt=PROMPT, guidance_scale=3.0),
        atol=1e-5,
    )


# ----------------------------------------------------------------------------- the method on latents
def test_local_basis_of_prompted_latent_map_matches_full_jacobian(sd):
    xt = sd.noisy_sample(1, t=0.6, steps=6, prompt=PROMPT)
    basis = sd.directions(xt=xt, t=0.6, k=3, steps=6, prompt=PROMPT, tol=1e-6)
    assert basis.prompt == PROMPT and basis.layer == "mid_block" and basis.v.shape == (3, 1, 4, 16, 16)
    f = sd.h_map(0.6, 6, prompt=PROMPT)
    J = torch.func.jacrev(lambda x: f(x.reshape(xt.shape)).reshape(-1), chunk_size=512)(xt.reshape(-1))
    U, S, Vt = np.linalg.svd(J.double().numpy(), full_matrices=False)
    np.testing.assert_allclose(basis.s.numpy(), S[:3], rtol=1e-4)
    overlap = np.abs(Vt[:3] @ basis.v.reshape(3, -1).double().numpy().T)
    np.testing.assert_allclose(np.diag(overlap), 1, atol=1e-3)
    # Another prompt is another map: its Jacobian differs.
    other = sd.directions(xt=xt, t=0.6, k=3, steps=6, prompt="a cat on a car", tol=1e-6)
    assert not np.allclose(other.s.numpy(), basis.s.numpy(), rtol=1e-3)


def test_layer_picks_another_block(sd):
    xt = sd.noisy_sample(1, t=0.6, steps=6)
    b = sd.directions(xt=xt, t=0.6, k=2, steps=6, layer="up_blocks.0")
    assert b.layer == "up_blocks.0" and b.u.shape[2] == 64 and b.converged
    with pytest.raises(UnknownLayerError, match="nearest: up_blocks.0"):
        sd.h_map(0.6, 6, layer="up_block.0")


def test_edit_transport_and_compare_prompts_on_latents(sd, face):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 32×32 RGB image fits the VAE: no note
        xt = sd.invert(face[None], t=0.5, steps=6, prompt=PROMPT)
    b = sd.directions(xt=xt, t=0.5, k=3, steps=6, prompt=PROMPT)
    grid = sd.edit(xt=xt, v=b.v[0], strengths=[-2, 0, 2], t=0.5, steps=6, prompt=PROMPT)
    assert grid.shape == (3, 3, 32, 32)
    np.testing.assert_allclose(
        grid[1], sd.generate(xt, t=0.5, steps=6, prompt=PROMPT, guidance_scale=1.0)[0], atol=1e-5
    )
    assert np.abs(grid[0] - grid[1]).max() > 1e-3  # the move changes the image
    target = sd.directions(xt=sd.noisy_sample(2, t=0.5, steps=6, prompt=PROMPT), t=0.5, k=3, steps=6, prompt=PROMPT)
    moved = sd.transport(b, 0, [target])[0]
    assert 0 <= moved.kept <= 1 + 1e-6 and moved.v.shape == (1, 4, 16, 16)
    solved = sd.transport(b, 0, [target.__class__(**{**target.__dict__, "jacobian": None})], method="lsqr", damp=0.0)[0]
    assert solved.kept >= moved.kept - 1e-4

    cmp = sd.compare_prompts(xt=xt, prompts=[PROMPT, "a cat", PROMPT], t=0.5, k=3, steps=6)
    assert cmp.angles_v.shape == cmp.angles_u.shape == (3, 3, 3)
    for angles in (cmp.angles_v, cmp.angles_u):
        np.testing.assert_allclose(angles, angles.transpose(1, 0, 2), atol=1e-6)
        np.testing.assert_allclose(angles[0, 2], 0, atol=1e-3)  # the same prompt twice: the same subspace
        assert angles[0, 1].max() > 1e-3
    expected = _angles_oracle(cmp.bases[0].v, cmp.bases[1].v)
    np.testing.assert_allclose(cmp.angles_v[0, 1], expected, atol=1e-6)


def test_images_that_do_not_fit_the_vae_are_resized_with_a_note(sd):
    with pytest.warns(sl.exceptions.InputNote, match=r"25×25 resized to the model's 32×32 \(the VAE takes 32×32\)"):
        x = sd.encode(sl.faces.builtin()[:1])
    assert x.shape == (1, 4, 16, 16)


def test_bfloat16_weights_with_float32_products(sd_dir):
    pipe = sl.diffusion.load(sd_dir, dtype="bfloat16")
    assert pipe.unet.dtype == torch.bfloat16
    img = pipe.sample(n=1, seed=0, steps=3, prompt=PROMPT)
    assert img.shape == (1, 3, 32, 32) and np.isfinite(img).all()
    b = pipe.directions(xt=pipe.noise(1, 0).float(), t=1.0, k=2, steps=3, prompt=PROMPT)
    assert b.v.dtype == torch.float32 and b.converged


# ----------------------------------------------------------------------------- principal angles
def _angles_oracle(A, B):
    qa = np.linalg.qr(np.asarray(A, dtype=np.float64).reshape(len(A), -1).T)[0]
    qb = np.linalg.qr(np.asarray(B, dtype=np.float64).reshape(len(B), -1).T)[0]
    return np.arccos(np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1, 1))


def test_principal_angles_against_qr_and_svd():
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(4, 30)), rng.normal(size=(3, 30))
    np.testing.assert_allclose(sl.principal_angles(A, B), np.sort(_angles_oracle(A, B)), atol=1e-10)
    # A rotation by a known angle inside a plane.
    theta = 0.3
    P = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    Q = np.array([[np.cos(theta), 0, np.sin(theta), 0], [0, 1.0, 0, 0]])
    np.testing.assert_allclose(sl.principal_angles(P, Q), [0.0, theta], atol=1e-12)
    assert sl.principal_angles(torch.tensor(A), torch.tensor(A)).max() < 1e-7
    with pytest.raises(InvalidParameterError, match="same size"):
        sl.principal_angles(A, rng.normal(size=(2, 5)))
    with pytest.raises(InvalidParameterError, match="NaN"):
        sl.principal_angles(np.full((2, 3), np.nan), A[:, :3])


# ----------------------------------------------------------------------------- refusals
def _copy(sd_dir, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(sd_dir, folder)
    return folder


def _edit_json(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_unsupported_pipelines_components_and_schedulers_are_refused_by_name(sd_dir, tmp_path):
    folder = _copy(sd_dir, tmp_path)
    _edit_json(folder / "model_index.json", _class_name="KandinskyPipeline")
    with pytest.raises(
        ModelLoadError, match="KandinskyPipeline; svdlens supports DDPMPipeline, DDIMPipeline, StableDiffusionPipeline"
    ):
        sl.diffusion.load(folder)
    _edit_json(folder / "model_index.json", _class_name="StableDiffusionPipeline", vae=["diffusers", "AutoencoderTiny"])
    with pytest.raises(ModelLoadError, match="the vae is a diffusers.AutoencoderTiny; svdlens supports AutoencoderKL"):
        sl.diffusion.load(folder)
    _edit_json(folder / "model_index.json", vae=["diffusers", "AutoencoderKL"])
    for change, words in (
        ({"prediction_type": "flow"}, "prediction_type='flow'"),
        ({"timestep_spacing": "karras"}, "timestep_spacing='karras'"),
        ({"use_karras_sigmas": True}, "use_karras_sigmas=True"),
        ({"_class_name": "FlowMatchEulerDiscreteScheduler"}, "flow matching"),
    ):
        saved = (folder / "scheduler" / "scheduler_config.json").read_text()
        _edit_json(folder / "scheduler" / "scheduler_config.json", **change)
        with pytest.raises(ModelLoadError, match=words):
            sl.diffusion.load(folder)
        (folder / "scheduler" / "scheduler_config.json").write_text(saved)
    for weights in (folder / "unet").glob("*.safetensors"):
        weights.rename(weights.with_suffix(".bin"))
    with pytest.raises(ModelLoadError, match="only the pickle files .*bin.*refused"):
        sl.diffusion.load(folder)


def test_bad_arguments_get_clear_errors(sd):
    with pytest.raises(InvalidParameterError, match="dtype must be one of float32, float16, bfloat16"):
        sl.diffusion.load("builtin", dtype="float8")
    with pytest.raises(ModelLoadError, match="no CUDA GPU"):
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
        sl.diffusion.load("builtin", device="cuda")
    with pytest.raises(InvalidParameterError, match="prompt applies only to text-conditioned models"):
        sl.diffusion.load("builtin").sample(n=1, steps=2, prompt="a face")
    with pytest.raises(InvalidParameterError, match=r"guidance_scale must be in \[0, 100\]"):
        sd.sample(n=1, steps=2, guidance_scale=1e6)
    with pytest.raises(InvalidParameterError, match="two or more prompts"):
        sd.compare_prompts(xt=sd.noise(1), prompts=["one"], t=0.5, k=2, steps=4)
    with pytest.raises(sl.SvdlensError, match=r"latents must be \(n, 4, 16, 16\)"):
        sd.sample(latents=torch.zeros(1, 3, 16, 16), steps=2)


# ----------------------------------------------------------------------------- the command line
def test_cli_commands_on_a_stable_diffusion_folder(sd_dir, tmp_path):
    runner = CliRunner()
    base = ["--model", str(sd_dir), "--steps", "4", "--quiet"]
    res = runner.invoke(app, ["sample", *base, "--prompt", PROMPT, "--n", "2", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "s" / "samples.npy").shape == (2, 3, 32, 32)
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["guidance"] == 7.5
    text = ["--prompt", PROMPT, "--negative-prompt", "blurry", "--t", "0.5"]
    res = runner.invoke(
        app, ["edit", *base, *text, "--seed", "1", "--strength", "-1,0,1", "--out", str(tmp_path / "e")]
    )
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "e" / "edit.npy").shape == (1, 3, 3, 32, 32)
    res = runner.invoke(
        app,
        ["transport", *base, *text, "--guidance", "2", "--from", "builtin:0", "--to", "builtin:1", "-k", "2",
         "--strength", "0", "--layer", "up_blocks.0", "--out", str(tmp_path / "t")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["layer"] == "up_blocks.0" and summary["prompt"] == PROMPT
    res = runner.invoke(
        app,
        ["directions", *base, *text, "--seed", "1", "-k", "2", "--compare-prompt", "a cat", "--compare-prompt", PROMPT,
         "--out", str(tmp_path / "d")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert (tmp_path / "d" / "prompts.png").exists() and summary["prompt"] == PROMPT
    assert (tmp_path / "d" / "prompt-distances.png").exists()
    d = np.array(summary["prompt_distances"]["grassmann_v"])  # prompts: PROMPT, "a cat", PROMPT
    assert d.shape == (3, 3) and d[0, 2] < 1e-2 < d[0, 1] and np.allclose(d, d.T)
    assert (
        max(summary["compared"][PROMPT]["angles_v_degrees"])
        < 0.1
        < max(summary["compared"]["a cat"]["angles_v_degrees"])
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (["sample", "--dtype", "float8"], "--dtype must be one of"),
        (["sample", "--guidance", "500"], "--guidance must be"),
        (["sample", "--prompt", "a face"], "builtin is not a text model: --prompt applies only"),
        (["sample", "--device", "cuda"], "no CUDA GPU"),
        (["sample", "--device", "toaster"], "unknown device 'toaster'"),
        (["sample", "--n", "0"], "--n must be"),
        (["edit", "--seed", "1", "--layer", "nope"], "has no layer 'nope'"),
        (["sample", "--model", "{d}"], "is not a diffusers model folder"),
        (["directions", "--seed", "1", "--compare-prompt", "a cat"], "--compare-prompt needs a text model"),
        (["directions", "--seed", "1", "--prompt", " "], "--prompt must be a non-empty text"),
    ],
)
def test_cli_model_flags_refuse_bad_values(tmp_path, args, words):
    if torch.cuda.is_available() and "cuda" in args:
        pytest.skip("this machine has a GPU")
    out = tmp_path / "out"
    args = [a.replace("{d}", str(tmp_path)) for a in args]
    res = CliRunner().invoke(app, [*args, "--steps", "2", "--quiet", "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert words in " ".join(res.output.split()) and "Traceback" not in res.output
    assert not out.exists()


def test_app_directions_tab_takes_a_prompt_for_stable_diffusion(sd_dir):
    pytest.importorskip("gradio")
    from svdlens.app import build_app
    from svdlens.app._handlers import AppInputError, Explorer

    ex = Explorer(str(sd_dir))
    assert ex.has_text and not Explorer("builtin").has_text
    start, edited, text = ex.edit("seed", 2, 0.5, 1, 2.0, PROMPT, k=2)
    assert start.shape == edited.shape == (200, 200, 3) and "σ" in text  # a seed: a generated colour image
    with pytest.raises(AppInputError, match="at most 1000"):
        ex.edit("seed", 2, 0.5, 1, 2.0, "x" * 1001, k=2)
    boxes = [b for b in build_app(str(sd_dir), ex).blocks.values() if getattr(b, "elem_id", None) == "prompt"]
    assert len(boxes) == 1 and boxes[0].visible


def test_flat_ddpm_folders_and_hub_ids(tmp_path, sd_dir, monkeypatch):
    """google/ddpm-* keep config.json and scheduler_config.json beside model_index.json; a hub id
    fetches only configs, tokenizer files and the components' safetensors."""
    import fnmatch

    import huggingface_hub

    nested = tiny_ddim(tmp_path / "nested")
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in [
        nested / "model_index.json",
        *(nested / "unet").iterdir(),
        nested / "scheduler" / "scheduler_config.json",
    ]:
        shutil.copy(path, flat)
    np.testing.assert_array_equal(
        sl.diffusion.load(flat).sample(1, steps=3), sl.diffusion.load(nested).sample(1, steps=3)
    )

    asked = {}

    def snapshot_download(repo, allow_patterns, ignore_patterns):
        asked.update(repo=repo, allow=allow_patterns, ignore=ignore_patterns)
        return str(sd_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert sl.diffusion.load("someone/tiny-sd").has_text and asked["repo"] == "someone/tiny-sd"

    def fetched(name):
        return any(fnmatch.fnmatch(name, p) for p in asked["allow"]) and not any(
            fnmatch.fnmatch(name, p) for p in asked["ignore"]
        )

    for name in ("model_index.json", "unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
                 "tokenizer/vocab.json", "tokenizer/merges.txt", "diffusion_pytorch_model.safetensors"):  # fmt: skip
        assert fetched(name), name
    for name in ("v1-5-pruned.safetensors", "unet/diffusion_pytorch_model.bin", "safety_checker/model.safetensors",
                 "unet/diffusion_pytorch_model.fp16.safetensors"):  # fmt: skip
        assert not fetched(name), name

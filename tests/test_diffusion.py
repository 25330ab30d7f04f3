"""The face pipeline on a tiny UNet saved as a real diffusers folder: loading, DDIM, directions, edits."""

import dataclasses
import json
import warnings

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import svdlens as sl
from svdlens.cli import app
from svdlens.exceptions import InputNote, ModelLoadError


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from diffusers import DDIMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=16,
        in_channels=1,
        out_channels=1,
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )
    folder = tmp_path_factory.mktemp("tiny")
    unet.save_pretrained(folder, safe_serialization=True)
    DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2").save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def pipe(model_dir):
    return sl.diffusion.load(model_dir)


def test_load_refuses_pickles_and_explains(tmp_path, model_dir, monkeypatch):
    (tmp_path / "config.json").write_text((model_dir / "config.json").read_text())
    (tmp_path / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelLoadError, match="only the pickle files diffusion_pytorch_model.bin.*refused"):
        sl.diffusion.load(tmp_path)
    with pytest.raises(ModelLoadError, match="no model folder 'nowhere/at/all'"):
        sl.diffusion.load("nowhere/at/all")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="could not fetch 'someone/some-model'.*offline"):
        sl.diffusion.load("someone/some-model")


def _builtin_ddim_pipeline():
    """diffusers' own DDIMPipeline on the built-in model's folder."""
    from diffusers import DDIMPipeline, DDIMScheduler, UNet2DModel

    from svdlens.diffusion import BUILTIN_DIR

    ref = DDIMPipeline(
        unet=UNet2DModel.from_pretrained(BUILTIN_DIR), scheduler=DDIMScheduler.from_pretrained(BUILTIN_DIR)
    )
    ref.set_progress_bar_config(disable=True)
    return ref


def test_builtin_sampling_is_diffusers_ddim_pipeline():
    """The built-in model's sample equals diffusers' own DDIMPipeline (eta = 0) on the same noise."""
    theirs = _builtin_ddim_pipeline()(
        batch_size=2, generator=torch.Generator().manual_seed(4), num_inference_steps=8, output_type="np"
    ).images
    ours = sl.diffusion.load("builtin").sample(n=2, seed=4, steps=8)
    np.testing.assert_allclose(ours, theirs[..., 0], atol=1e-5)


@pytest.mark.parametrize("eta", [1.0, 0.3])
def test_stochastic_sampling_is_diffusers_ddim_pipeline_and_batch_free(eta):
    """With eta > 0, sample() equals DDIMPipeline(eta, generator) on one batch, and smaller batches change nothing."""
    theirs = _builtin_ddim_pipeline()(
        batch_size=3, generator=torch.Generator().manual_seed(4), num_inference_steps=6, eta=eta, output_type="np"
    ).images[..., 0]
    pipe = sl.diffusion.load("builtin")
    ours = pipe.sample(n=3, seed=4, steps=6, eta=eta)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(pipe.sample(n=3, seed=4, steps=6, eta=eta, max_memory="1MB"), ours, atol=1e-5)
    assert np.abs(ours - pipe.sample(n=3, seed=4, steps=6)).max() > 0.1  # the noise did act
    np.testing.assert_array_equal(
        pipe.sample(n=2, seed=4, steps=6, eta=eta), pipe.sample(n=2, seed=4, steps=6, eta=eta)
    )


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_sampling_progress_counts_every_batch_and_step(pipe, eta):
    """Both samplers report every batch's every step, in order, out of steps × batches."""
    calls = []
    pipe.sample(n=3, seed=0, steps=4, eta=eta, max_memory="1KB", progress=lambda *a: calls.append(a))
    done = [c[0] for c in calls]
    assert done == sorted(done) and set(done) == set(range(13))  # 3 batches of one × 4 steps
    assert {c[1] for c in calls} == {12}


def test_eta_is_checked(pipe):
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"eta must be in \[0, 1\]; got"):
            pipe.sample(n=1, steps=2, eta=bad)


def test_inversion_then_generation_comes_back(pipe):
    """DDIM inversion and sampling walk the same grid: a sample inverted to t and generated again returns."""
    imgs = pipe.sample(n=2, seed=3, steps=20)
    xt = pipe.invert(imgs, t=0.3, steps=20)
    assert pipe.t_index(0.3, 20) == 300 and pipe.timesteps(0.3, 20)[::-1] == list(range(0, 301, 50))
    np.testing.assert_allclose(pipe.generate(xt, t=0.3, steps=20), imgs, atol=0.05)


def test_t_and_steps_are_checked(pipe):
    img = np.zeros((16, 16))
    for t in (0, 1.5, -0.2):
        with pytest.raises(ValueError, match=r"t must be in \(0, 1\]"):
            pipe.invert(img[None], t=t)
    with pytest.raises(ValueError, match="steps must be a positive"):
        pipe.invert(img[None], t=0.5, steps=0)


def test_images_are_converted_with_notes(pipe):
    rgb = np.random.default_rng(0).random((1, 3, 16, 16))
    with pytest.warns(InputNote, match="converted to grayscale"):
        assert pipe.to_model(rgb).shape == (1, 1, 16, 16)
    with pytest.warns(InputNote, match="25×25 resized to the model's 16×16"):
        assert pipe.to_model(sl.faces.builtin()[:2]).shape == (2, 1, 16, 16)


def test_sample_generate_and_edit(pipe):
    imgs = pipe.sample(n=3, seed=1, steps=5)
    assert imgs.shape == (3, 16, 16) and 0 <= imgs.min() and imgs.max() <= 1
    np.testing.assert_array_equal(imgs, pipe.sample(n=3, seed=1, steps=5))  # deterministic
    face = sl.faces.builtin()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputNote)
        xt = pipe.invert(face[None], t=0.5, steps=5)
        b = pipe.directions(face[None], t=0.5, k=3, steps=5)
        grid = pipe.edit(face[None], b.v[0], strengths=[-2, 0, 2], t=0.5, steps=5)
    assert xt.shape == (1, 1, 16, 16)
    assert b.v.shape == (3, 1, 1, 16, 16) and b.converged and b.jvp_mode == "forward"
    assert grid.shape == (3, 16, 16)
    np.testing.assert_allclose(grid[1], pipe.generate(xt, t=0.5, steps=5)[0], atol=1e-6)  # γ = 0: no edit
    guided = pipe.edit(v=b.v[0], strengths=[0, 1], t=0.5, steps=5, xt=xt, x_guidance=2)
    np.testing.assert_allclose(guided[0], grid[1], atol=1e-6)
    moved = pipe.transport(b, 0, [pipe.directions(xt=pipe.noisy_sample(3, t=0.5, steps=5), t=0.5, k=3)])[0]
    assert 0 <= moved.kept <= 1 + 1e-9 and moved.v.shape == (1, 1, 16, 16)
    # Undamped least squares on the target's whole Jacobian carries at least what its top-3 projection does.
    target = pipe.directions(xt=pipe.noisy_sample(3, t=0.5, steps=5), t=0.5, k=3)
    projected = pipe.transport(b, 0, [target])[0]
    solved = pipe.transport(b, 0, [target], method="lsqr", damp=0.0)[0]
    assert solved.kept >= projected.kept - 1e-4 and solved.v.shape == (1, 1, 16, 16)
    # A target read back from a cache has no Jacobian: the pipeline makes it again from x_t and t.
    stored = dataclasses.replace(target, jacobian=None)
    again = pipe.transport(b, 0, [stored], method="lsqr", damp=0.0)[0]
    assert again.kept == pytest.approx(solved.kept, abs=1e-5)


def test_small_step_moves_h_along_u(pipe):
    xt = pipe.noisy_sample(5, t=0.6, steps=5)
    b = pipe.directions(xt=xt, t=0.6, k=2, tol=1e-6)
    f = pipe.h_map(0.6)
    with torch.no_grad():  # an untrained model's x_t is large (std ~26): a step float32 h can resolve
        dh = f(xt + 0.1 * b.v[0]) - f(xt)
    cos = torch.nn.functional.cosine_similarity(dh.reshape(-1), b.u[0].reshape(-1), dim=0)
    assert float(cos) >= 0.9  # the criterion for small γ


def test_cli_directions_edit_transport(tmp_path, model_dir):
    runner = CliRunner()
    base = ["--model", str(model_dir), "--steps", "4", "--t", "0.5"]
    res = runner.invoke(app, ["directions", *base, "--image", "builtin:0", "-k", "3", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert "resized" in res.output  # the note about 25×25 → 16×16
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["converged"]
    res = runner.invoke(
        app,
        [
            "edit",
            *base,
            "--seed",
            "2",
            "--direction",
            "1",
            "--direction",
            "2",
            "--strength",
            "-2:2:3",
            "--out",
            str(tmp_path / "e"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "e" / "edit.npy").shape == (2, 3, 16, 16)
    res = runner.invoke(
        app,
        [
            "transport",
            *base,
            "--from",
            "builtin:0",
            "--to",
            "builtin:1",
            "--to",
            "builtin:2",
            "-k",
            "3",
            "--strength",
            "-1,0,1",
            "--out",
            str(tmp_path / "t"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(json.loads((tmp_path / "t" / "summary.json").read_text())["kept"]) == 2
    res = runner.invoke(
        app,
        [
            "transport",
            *base,
            "--from",
            "builtin:0",
            "--to",
            "builtin:1",
            "-k",
            "3",
            "--method",
            "lsqr",
            "--damp",
            "0.5",
            "--strength",
            "0",
            "--out",
            str(tmp_path / "tl"),
        ],
    )
    assert res.exit_code == 0, res.output
    lsqr = json.loads((tmp_path / "tl" / "summary.json").read_text())
    assert lsqr["method"] == "lsqr" and lsqr["damp"] == 0.5 and 0 < lsqr["kept"][0] <= 1 + 1e-6 and lsqr["gain"][0] > 0
    res = runner.invoke(
        app,
        [
            "transport",
            *base,
            "--from",
            "builtin:0",
            "--to",
            "builtin:1",
            "--method",
            "exact",
            "--out",
            str(tmp_path / "tx"),
        ],
    )
    assert res.exit_code == 2 and "--method must be one of" in res.output and not (tmp_path / "tx").exists()
    res = runner.invoke(app, ["edit", *base, "--image", "builtin:0", "--seed", "1"])
    assert res.exit_code == 2 and "give --image" in " ".join(res.output.split())
    res = runner.invoke(app, ["edit", "--model", str(tmp_path / "missing"), "--seed", "1"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["directions", *base[:2], "--seed", "1", "--t", "1.5"])
    assert res.exit_code == 2 and "t must be in (0, 1]" in " ".join(res.output.split())


def test_the_face_world_model_ships_and_samples():
    from svdlens.diffusion._builtin import BUILTINS

    folder = BUILTINS["builtin"].folder
    weights = folder / "diffusion_pytorch_model.safetensors"
    assert weights.exists() and weights.stat().st_size <= 20 * 2**20  # the budget
    info = json.loads((folder / "training.json").read_text())
    runs = [*info["history"], info]  # two runs: 8000 steps from scratch, 8000 more from those weights
    assert [r["data"] for r in runs] == ["world", "world"] and [r["seed"] for r in runs] == [0, 1]
    assert (
        sum(r["steps"] for r in runs) >= 1000 and info["final_loss_mean_last_200"] < runs[0]["final_loss_mean_last_200"]
    )
    pipe = sl.diffusion.load("builtin")
    imgs = pipe.sample(n=2, seed=0, steps=10)
    assert imgs.shape == (2, 64, 64) and 0 <= imgs.min() and imgs.max() <= 1
    assert imgs.std(axis=(1, 2)).min() > 0.02


def test_the_real_face_model_ships_and_samples():
    from svdlens.diffusion._builtin import BUILTINS

    folder = BUILTINS["builtin-lfw"].folder
    weights = folder / "diffusion_pytorch_model.safetensors"
    assert weights.exists() and weights.stat().st_size <= 10 * 2**20
    info = json.loads((folder / "training.json").read_text())
    runs = info.get("history", []) + [info]  # the first run from scratch, each later one resumed
    assert runs[0]["seed"] == 0 and all(r["steps"] > 0 for r in runs)
    assert all(r.get("resumed_from") for r in runs[1:]) and len({r["seed"] for r in runs}) == len(runs)
    pipe = sl.diffusion.load("builtin-lfw")
    imgs = pipe.sample(n=2, seed=0, steps=10)
    assert imgs.shape == (2, 32, 32) and 0 <= imgs.min() and imgs.max() <= 1
    # Sampling clips x0 to the data range; an image is never all one colour.
    assert imgs.std(axis=(1, 2)).min() > 0.02

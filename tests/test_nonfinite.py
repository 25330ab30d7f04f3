"""A model that computes NaN or Inf never writes a file: the error names the component and the step.

The weights here are finite, so they load; one layer is set to 3e38 so that its output
overflows float32. Each case must end in :class:`~svdlens.exceptions.NonFiniteError` naming the
component (the U-Net at a timestep, the VAE's encoder or decoder, the text encoder) from the
library, and in exit 2 with one line and no output folder from ``svdlens sample``/``edit``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import svdlens as sl
from svdlens.cli import app
from svdlens.exceptions import NonFiniteError
from tiny_pipelines import broken_copy, tiny_ddim, tiny_stable_diffusion


def _scale(path, key):
    """Set one tensor to 3e38 everywhere: finite, so it loads, but its layer's output overflows float32."""
    tensors = load_file(str(path))
    tensors[key] = torch.full_like(tensors[key], 3e38)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("nonfinite")
    ddim, sd = tiny_ddim(root / "ddim"), tiny_stable_diffusion(root / "sd")
    unet = broken_copy(ddim, root / "unet-overflows")
    _scale(unet / "unet/diffusion_pytorch_model.safetensors", "conv_out.weight")
    decoder = broken_copy(sd, root / "decoder-overflows")
    _scale(decoder / "vae/diffusion_pytorch_model.safetensors", "decoder.conv_out.weight")
    encoder = broken_copy(sd, root / "encoder-overflows")
    _scale(encoder / "vae/diffusion_pytorch_model.safetensors", "encoder.conv_out.weight")
    text = broken_copy(sd, root / "text-overflows")
    _scale(text / "text_encoder/model.safetensors", "final_layer_norm.weight")
    return {"unet": unet, "decoder": decoder, "encoder": encoder, "text": text}


def test_the_unets_overflow_is_named_with_its_timestep(folders):
    pipe = sl.diffusion.load(folders["unet"])
    with pytest.raises(NonFiniteError, match=r"the U-Net's prediction at timestep \d+ holds NaN or Inf.*float32"):
        pipe.sample(2, seed=0, steps=4)
    with pytest.raises(NonFiniteError, match="U-Net's prediction"):
        pipe.invert(np.full((3, 16, 16), 0.5, np.float32), t=0.5, steps=4)


def test_the_vae_and_text_encoder_overflows_are_named(folders):
    with pytest.raises(NonFiniteError, match="the VAE's decoder output"):
        sl.diffusion.load(folders["decoder"]).sample(1, seed=0, steps=2, prompt="a face")
    with pytest.raises(NonFiniteError, match="the VAE's encoder output"):
        sl.diffusion.load(folders["encoder"]).invert(np.full((3, 32, 32), 0.5, np.float32), t=0.5, steps=2)
    with pytest.raises(NonFiniteError, match="the text encoder's output"):
        sl.diffusion.load(folders["text"]).sample(1, seed=0, steps=2, prompt="a face")


def test_an_inf_that_clamping_would_hide_is_caught():
    from svdlens._validation import check_finite

    check_finite("x", torch.ones(3))
    with pytest.raises(NonFiniteError, match=r"\(1 of 3 values\)"):
        check_finite("x", torch.tensor([0.0, float("inf"), 1.0]))


@pytest.mark.parametrize(
    "which, args",
    [
        ("unet", ["sample", "--n", "2", "--steps", "3"]),
        ("decoder", ["sample", "--n", "1", "--steps", "2", "--prompt", "a face"]),
        ("unet", ["edit", "--seed", "0", "--steps", "4", "--t", "0.5", "--strength", "-1,1", "--tol", "0.1"]),
    ],
)
def test_the_command_line_writes_nothing_and_says_where(folders, tmp_path, which, args):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [*args, "--model", str(folders[which]), "--out", str(out), "--quiet"])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("error:") and "NaN or Inf" in message and "Traceback" not in message
    assert message.count("error:") == 1  # one message (rich wraps it at the terminal's width)
    assert not out.exists() and not list(tmp_path.glob(".svdlens-*"))

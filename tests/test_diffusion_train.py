"""Training the built-in DDPM: a few real steps, reproducible, written in the diffusers folder format."""

import json

import torch

from svdlens.diffusion import train_faces
from svdlens.diffusion._builtin import build_unet, face_images


def test_face_images():
    X = face_images()
    assert X.shape == (200, 1, 32, 32) and X.min() >= -1 and X.max() <= 1
    torch.testing.assert_close(X[100:], X[:100].flip(-1))  # the mirrored half


def test_a_few_steps_are_reproducible_and_loadable(tmp_path):
    from diffusers import DDPMScheduler, UNet2DModel

    a = train_faces(tmp_path / "a", steps=3, batch_size=4, seed=1)
    train_faces(tmp_path / "b", steps=3, batch_size=4, seed=1)
    assert a["steps"] == 3 and a["device"] == "cpu"
    wa = UNet2DModel.from_pretrained(tmp_path / "a")
    wb = UNet2DModel.from_pretrained(tmp_path / "b")
    for (na, pa), (_, pb) in zip(wa.state_dict().items(), wb.state_dict().items()):
        torch.testing.assert_close(pa, pb, msg=na)
    assert (tmp_path / "a" / "diffusion_pytorch_model.safetensors").exists()
    DDPMScheduler.from_pretrained(tmp_path / "a")
    assert json.loads((tmp_path / "a" / "training.json").read_text())["parameters"] == sum(
        p.numel() for p in build_unet().parameters()
    )


def test_resume_goes_on_from_saved_weights(tmp_path):
    import pytest
    from diffusers import UNet2DModel

    first = train_faces(tmp_path / "a", steps=2, batch_size=4, seed=1)
    info = train_faces(tmp_path / "b", steps=2, batch_size=4, seed=2, lr=1e-6, resume=tmp_path / "a")
    assert info["resumed_from"] == str(tmp_path / "a") and info["history"][0]["steps"] == first["steps"]
    a = UNet2DModel.from_pretrained(tmp_path / "a").state_dict()
    b = UNet2DModel.from_pretrained(tmp_path / "b").state_dict()
    # A tiny learning rate and EMA 0.999 keep the resumed weights next to the ones it started from.
    for name in a:
        torch.testing.assert_close(b[name], a[name], atol=1e-4, rtol=0, msg=name)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train_faces(tmp_path / "c", steps=1, resume=tmp_path / "missing")

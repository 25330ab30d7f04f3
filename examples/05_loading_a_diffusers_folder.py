# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. Loading a diffusers folder
#
# The method is not tied to the built-in model. `sl.diffusion.load(folder)` takes any diffusers
# pipeline folder (`DDPMPipeline`, `DDIMPipeline`, `StableDiffusionPipeline`; or a hub id when
# online) and runs DDIM with the model's own scheduler.
#
# To stay offline and fast, this notebook **builds two tiny, randomly initialised pipelines of
# the real diffusers classes** in a temporary folder, as diffusers' own tests do: a pixel
# `DDIMPipeline`, and a `StableDiffusionPipeline` whose CLIP tokenizer files (`vocab.json`,
# `merges.txt`) are written right here. Nothing is downloaded. With random weights the images
# are noise; the point is the plumbing, which is the same for `google/ddpm-celebahq-256` or
# Stable Diffusion 1.5 folders on disk.

# %%
# ruff: noqa: B018 (a bare name ending a cell is how a notebook shows it)
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from diffusers import (
    AutoencoderKL,
    DDIMPipeline,
    DDIMScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
    UNet2DModel,
)
from diffusers.utils import logging as diffusers_logging
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

import svdlens as sl

diffusers_logging.set_verbosity_error()  # diffusers' loading notes are not part of the story
torch.set_num_threads(1)
torch.manual_seed(0)
workdir = Path(tempfile.mkdtemp(prefix="svdlens-tutorial-"))
STEPS = 10

# %% [markdown]
# ## A tiny pixel DDIM pipeline
#
# A 3-channel 16×16 `UNet2DModel` with attention in its lower block, a `DDIMScheduler`, saved
# with `save_pretrained(safe_serialization=True)`: svdlens loads safetensors only.

# %%
unet = UNet2DModel(
    sample_size=16,
    in_channels=3,
    out_channels=3,
    layers_per_block=1,
    block_out_channels=(16, 32),
    down_block_types=("DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=8,
)
ddim_folder = workdir / "tiny-ddim"
DDIMPipeline(unet=unet, scheduler=DDIMScheduler(num_train_timesteps=1000)).save_pretrained(
    ddim_folder, safe_serialization=True
)
print(sorted(str(p.relative_to(ddim_folder)) for p in ddim_folder.rglob("*") if p.is_file()))

# %%
pipe = sl.diffusion.load(ddim_folder)
print(type(pipe).__name__, f"{pipe.image_channels} channels, {pipe.image_size}×{pipe.image_size}")
imgs = pipe.sample(n=2, seed=0, steps=STEPS)
print("samples:", imgs.shape, f"in [{imgs.min():.2f}, {imgs.max():.2f}]")

# %% [markdown]
# svdlens' DDIM equals diffusers' own `DDIMPipeline` on the same noise (the tests check this to
# float precision); here is the check, side by side.

# %%
ours = pipe.generate(pipe.noise(n=1, seed=0), t=1.0, steps=STEPS)  # noise(seed) = torch.Generator().manual_seed(seed)
reference = DDIMPipeline.from_pretrained(ddim_folder)
reference.set_progress_bar_config(disable=True)
theirs = reference(
    batch_size=1, generator=torch.Generator().manual_seed(0), num_inference_steps=STEPS, eta=0.0, output_type="np"
).images
print(f"largest difference from diffusers' DDIMPipeline: {np.abs(ours.transpose(0, 2, 3, 1) - theirs).max():.1e}")

# %% [markdown]
# ## Directions and an edit
#
# The same calls as on the built-in model: the local basis of x_t ↦ h (the U-Net's mid-block)
# at one sample, then an edit along v₁.

# %%
b = pipe.directions(imgs[:1], t=0.6, k=3, steps=STEPS)
print("σ:", np.round(b.s.numpy(), 3), " residuals:", [f"{r:.0e}" for r in b.residuals.tolist()])
print("v:", tuple(b.v.shape), " u:", tuple(b.u.shape), " converged:", b.converged)
grid = pipe.edit(imgs[:1], b.v[0], strengths=[-2, 0, 2], t=0.6, steps=STEPS)
print("edit grid:", grid.shape)
b

# %%
fig_spectrum = b.plot()
fig_spectrum

# %% [markdown]
# ## A tiny Stable Diffusion pipeline, with prompts
#
# Stable Diffusion needs a CLIP tokenizer. Its two files are a byte-level BPE vocabulary and a
# list of merges: write a small one (every byte, a few merges, the two special tokens), then
# build a 2-layer `CLIPTextModel`, a small `AutoencoderKL` (32×32 RGB images ↔ 4×16×16
# latents) and a small cross-attention `UNet2DConditionModel`.


# %%
def byte_alphabet():
    """The 256 printable stand-ins for bytes that byte-level BPE (GPT-2, CLIP) uses."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out, extra = [], 0
    for byte in range(256):
        if byte in keep:
            out.append(chr(byte))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


raw = workdir / "tokenizer-files"
raw.mkdir()
chars = byte_alphabet()
vocab = {c: i for i, c in enumerate(chars)}
vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
merges = ["#version: 0.2"]
for a, c in (("t", "h"), ("th", "e</w>"), ("a", "n"), ("o", "r"), ("f", "a"), ("c", "e</w>")):
    merges.append(f"{a} {c}")
    vocab[a + c] = len(vocab)
vocab["<|startoftext|>"] = len(vocab)
vocab["<|endoftext|>"] = len(vocab)
(raw / "vocab.json").write_text(json.dumps(vocab))
(raw / "merges.txt").write_text("\n".join(merges) + "\n")
PROMPT_LENGTH = 16  # CLIP uses 77; short keeps this quick
tok = CLIPTokenizer(str(raw / "vocab.json"), str(raw / "merges.txt"), model_max_length=PROMPT_LENGTH)
print(tok("a photo of a face").input_ids)

# %%
torch.manual_seed(0)
sd_unet = UNet2DConditionModel(
    block_out_channels=(32, 64),
    layers_per_block=1,
    sample_size=16,
    in_channels=4,
    out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    cross_attention_dim=32,
    norm_num_groups=8,
    attention_head_dim=8,
)
vae = AutoencoderKL(
    block_out_channels=[16, 32],
    in_channels=3,
    out_channels=3,
    down_block_types=["DownEncoderBlock2D"] * 2,
    up_block_types=["UpDecoderBlock2D"] * 2,
    latent_channels=4,
    norm_num_groups=8,
    sample_size=32,
)
text_encoder = CLIPTextModel(
    CLIPTextConfig(
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-5,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=len(tok),
        max_position_embeddings=PROMPT_LENGTH,
    )
)
scheduler = DDIMScheduler(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    clip_sample=False,
    set_alpha_to_one=False,
    steps_offset=1,
)
sd_folder = workdir / "tiny-sd"
StableDiffusionPipeline(
    vae=vae,
    text_encoder=text_encoder,
    tokenizer=tok,
    unet=sd_unet,
    scheduler=scheduler,
    safety_checker=None,
    feature_extractor=None,
    requires_safety_checker=False,
).save_pretrained(sd_folder, safe_serialization=True)
print(sorted(p.name for p in sd_folder.iterdir()))

# %% [markdown]
# Load it, sample with a prompt and classifier-free guidance, and find directions of the
# prompt-conditioned map x_t ↦ h (x_t are the VAE's latents here).

# %%
sd = sl.diffusion.load(sd_folder)
prompt = "a photo of a face"
img = sd.sample(n=1, seed=0, steps=STEPS, prompt=prompt, guidance_scale=7.5)
print("sample:", img.shape, f"in [{img.min():.2f}, {img.max():.2f}]")
sd_b = sd.directions(img, t=0.6, k=2, steps=STEPS, prompt=prompt)
print("σ:", np.round(sd_b.s.numpy(), 3), " v (latent-shaped):", tuple(sd_b.v.shape), " converged:", sd_b.converged)
sd_b

# %% [markdown]
# The same folder in diffusers' own `StableDiffusionPipeline`, on the same latents, gives the
# same image (up to float error):

# %%
latents = sd.noise(n=1, seed=0)
ours = sd.generate(latents, t=1.0, steps=STEPS, prompt=prompt, guidance_scale=7.5)
reference = StableDiffusionPipeline.from_pretrained(sd_folder, safety_checker=None, requires_safety_checker=False)
reference.set_progress_bar_config(disable=True)
theirs = reference(
    prompt, latents=latents.clone(), num_inference_steps=STEPS, guidance_scale=7.5, eta=0.0, output_type="np"
).images
print(
    f"largest difference from diffusers' StableDiffusionPipeline: {np.abs(ours.transpose(0, 2, 3, 1) - theirs).max():.1e}"
)

# %% [markdown]
# The folders were temporary: point `sl.diffusion.load` at a real model's folder to do the same
# on it. Clean up:

# %%
shutil.rmtree(workdir)
print("removed", workdir)

"""Tiny, randomly initialised diffusers pipelines of the real architectures, saved as folders.

As diffusers' own tests do, nothing is downloaded: the components are built here from small
configs (``UNet2DConditionModel`` with block_out_channels (32, 64), ``AutoencoderKL``,
``CLIPTextModel`` from a tiny ``CLIPTextConfig``), and the CLIP tokenizer's vocab and merges
files are written by hand. Every folder is saved with ``save_pretrained(safe_serialization=True)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

PROMPT_LENGTH = 16  # the tokenizer's model_max_length (77 in CLIP; short keeps the tests fast)


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins for bytes that byte-level BPE (GPT-2, CLIP) uses."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def write_clip_tokenizer(folder: Path) -> Path:
    """A CLIP tokenizer with every byte, a few merges and the two special tokens; saved to ``folder``."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    raw = write_vocab_and_merges(folder / "raw")
    tok = CLIPTokenizer(str(raw / "vocab.json"), str(raw / "merges.txt"), model_max_length=PROMPT_LENGTH)
    tok.save_pretrained(folder)
    return folder


def write_vocab_and_merges(folder: Path) -> Path:
    """The two files of a CLIP tokenizer as Stable Diffusion 1.5 ships it: ``vocab.json`` and ``merges.txt``."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_alphabet()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    merges = ["#version: 0.2"]
    for a, b in (("t", "h"), ("th", "e</w>"), ("a", "n"), ("o", "r"), ("f", "a"), ("c", "e</w>")):
        merges.append(f"{a} {b}")
        vocab[a + b] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("\n".join(merges) + "\n")
    return folder


def ddim_scheduler(**settings):
    """A DDIM scheduler; ``settings`` override the defaults (prediction_type, clip_sample, ...)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(**{"num_train_timesteps": 1000, **settings})


def tiny_stable_diffusion(folder: Path, *, seed: int = 0, **scheduler_settings) -> Path:
    """A StableDiffusionPipeline folder: 16×16×4 latents, 32×32 RGB images, a 2-layer CLIP text encoder."""
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    tok = CLIPTokenizer.from_pretrained(write_clip_tokenizer(folder.parent / f"{folder.name}-tokenizer"))
    unet = UNet2DConditionModel(
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
    settings = {
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "clip_sample": False,
        "set_alpha_to_one": False,
        "steps_offset": 1,
        **scheduler_settings,
    }
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tok,
        unet=unet,
        scheduler=ddim_scheduler(**settings),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def tiny_ddim(folder: Path, *, seed: int = 0, **scheduler_settings) -> Path:
    """A DDIMPipeline folder: a 3-channel 16×16 UNet2DModel with attention, and its scheduler."""
    from diffusers import DDIMPipeline, UNet2DModel

    torch.manual_seed(seed)
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
    DDIMPipeline(unet=unet, scheduler=ddim_scheduler(**scheduler_settings)).save_pretrained(
        folder, safe_serialization=True
    )
    return folder


# ----------------------------------------------------------------------------- broken copies
def broken_copy(folder: Path, to: Path) -> Path:
    """A copy of a model folder to break (the original stays as it was)."""
    import shutil

    shutil.copytree(folder, to, symlinks=True)
    return to


def edit_config(path: Path, **changes) -> None:
    """Set keys of a JSON config file (NaN and Infinity are written as Python's json writes them)."""
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def edit_weights(path: Path, change) -> str:
    """Rewrite a safetensors file through ``change(tensors, key)``, with ``key`` its fourth tensor; returns the key."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    key = sorted(tensors)[3]
    change(tensors, key)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"format": "pt"})
    return key


def hub_snapshot(folder: Path, cache: Path) -> Path:
    """``folder`` laid out as a Hugging Face cache: ``snapshots/<rev>/...`` links into ``blobs/``."""
    import hashlib
    import os

    snapshot = cache / "snapshots" / "0123abc"
    (cache / "blobs").mkdir(parents=True)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            blob = cache / "blobs" / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data)
            link = snapshot / path.relative_to(folder)
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(blob, link.parent), link)
    return snapshot

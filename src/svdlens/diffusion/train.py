"""``svdlens train-faces``: train the built-in DDPM on the built-in faces, reproducibly.

A small diffusers ``UNet2DModel`` (1 channel, 32×32) learns to denoise the 100 built-in faces,
resized from 25×25 to 32×32 and mirrored (200 images), with the DDPM objective of Ho et al. (2020),
"Denoising diffusion probabilistic models": predict the noise ε added at a random step t.
An exponential moving average of the weights (decay 0.999) is what gets saved. The weights go
out as safetensors with the model and scheduler configs, in the diffusers folder format.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

__all__ = ["build_unet", "build_scheduler", "face_images", "train_faces", "BUILTIN_DIR"]

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
IMAGE_SIZE = 32


def build_unet():
    from diffusers import UNet2DModel

    return UNet2DModel(
        sample_size=IMAGE_SIZE,
        in_channels=1,
        out_channels=1,
        # Sized for 2 CPU cores (measured: 0.21 s per step of 16 images, 1.1 M parameters, 4.5 MB);
        # attention only at 8×8, where it is cheap.
        layers_per_block=1,
        block_out_channels=(32, 64, 64),
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=16,
        attention_head_dim=32,
    )


def build_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="epsilon")


def face_images(size: int = IMAGE_SIZE) -> torch.Tensor:
    """The 100 built-in faces resized to ``size``², plus their mirror images, in [−1, 1]: (200, 1, size, size)."""
    from skimage.transform import resize

    from ..faces import builtin

    X = np.stack([resize(f, (size, size), anti_aliasing=True) for f in builtin("faces")])
    X = np.concatenate([X, X[:, :, ::-1]])
    return torch.from_numpy(np.ascontiguousarray(X * 2 - 1)).float()[:, None]


def train_faces(out=BUILTIN_DIR, *, steps: int = 20000, batch_size: int = 16, lr: float = 5e-4, seed: int = 0,
                device: str | None = None, progress=None, time_limit_s: float | None = None,
                resume=None) -> dict:
    """Train and write the diffusers folder ``out`` (model, scheduler, training.json).

    ``resume``: a folder written by an earlier run; training goes on from its (EMA) weights, and
    its training.json is carried into the new one as ``history``. The optimiser starts afresh,
    so a resumed run is reproducible from the folder and the seed alone.
    """
    torch.manual_seed(seed)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    data = face_images().to(device)
    model = build_unet().to(device)
    history = []
    if resume is not None:
        from diffusers import UNet2DModel

        resume = Path(resume)
        if not (resume / "diffusion_pytorch_model.safetensors").exists():
            raise FileNotFoundError(f"nothing to resume in {resume}: no diffusion_pytorch_model.safetensors")
        model.load_state_dict(UNet2DModel.from_pretrained(resume, use_safetensors=True, low_cpu_mem_usage=False).state_dict())
        record = resume / "training.json"
        if record.exists():
            earlier = json.loads(record.read_text())
            history = earlier.pop("history", []) + [earlier]
    ema = build_unet().to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    scheduler = build_scheduler()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    losses, start = [], time.perf_counter()
    model.train()
    done = 0
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(data), (batch_size,), generator=gen)
        x0 = data[idx.to(device)]
        noise = torch.randn(x0.shape, generator=gen).to(device)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch_size,), generator=gen).to(device)
        xt = scheduler.add_noise(x0, noise, t)
        loss = torch.nn.functional.mse_loss(model(xt, t).sample, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            decay = 0.999 if history else min(0.999, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)
        losses.append(float(loss.detach()))
        done = step
        if progress:
            progress(step, steps, losses[-1])
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            break
    seconds = time.perf_counter() - start
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ema.save_pretrained(out, safe_serialization=True)
    scheduler.save_pretrained(out)
    info = {"steps": done, "batch_size": batch_size, "lr": lr, "seed": seed, "device": str(device),
            "seconds": seconds, "final_loss_mean_last_200": float(np.mean(losses[-200:])),
            "parameters": sum(p.numel() for p in model.parameters()), "torch": torch.__version__,
            "resumed_from": str(resume) if resume is not None else None, "history": history}
    (out / "training.json").write_text(json.dumps(info, indent=2))
    return info

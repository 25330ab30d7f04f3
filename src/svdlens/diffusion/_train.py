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

from .._atomic import staged_output
from .._progress import Progress, report
from ..exceptions import MissingInputError
from ._builtin import build_scheduler, build_unet, face_images

__all__ = ["train_faces"]


def train_faces(
    out: str | Path = "out/builtin-ddpm",
    *,
    steps: int = 20000,
    batch_size: int = 16,
    lr: float = 5e-4,
    seed: int = 0,
    device: str | None = None,
    progress: Progress = None,
    time_limit_s: float | None = None,
    resume: str | Path | None = None,
    force: bool = False,
) -> dict:
    """Train and write the diffusers folder ``out`` (model, scheduler, training.json).

    The folder is written whole or not at all (a staging folder, then moved into place).

    Parameters
    ----------
    out : str or pathlib.Path
        The diffusers folder to write; :func:`svdlens.diffusion.load` reads it.
    steps : int
        Optimiser steps.
    batch_size : int
        Images per step.
    lr : float
        AdamW's learning rate.
    seed : int
        Seed of the weights, the batches, the noise and the timesteps.
    device : str, optional
        Where to train (default: CUDA when available, else CPU).
    progress : callable, optional
        ``progress(step, steps, label)`` after each step; the label holds the loss.
    time_limit_s : float, optional
        Stop after this many seconds, and save what has been learned.
    resume : str or pathlib.Path, optional
        A folder written by an earlier run; training goes on from its (EMA) weights, and its
        training.json is carried into the new one as ``history``. The optimiser starts afresh,
        so a resumed run is reproducible from the folder and the seed alone.
    force : bool
        Replace files in ``out`` that svdlens did not write.

    Returns
    -------
    dict
        What training.json records: steps done, settings, seconds, the mean loss of the last
        200 steps, the parameter count, the torch version and the history.

    Raises
    ------
    MissingInputError
        ``resume`` holds no weights.
    OutputError
        ``out`` is a file, or holds files svdlens did not write (without ``force``), or one
        of ``resume``'s files would be overwritten.
    """
    torch.manual_seed(seed)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    data = face_images().to(dev)
    model = build_unet().to(dev)
    history = []
    if resume is not None:
        from diffusers import UNet2DModel

        resume = Path(resume)
        if not (resume / "diffusion_pytorch_model.safetensors").exists():
            raise MissingInputError(f"nothing to resume in {resume}: no diffusion_pytorch_model.safetensors")
        model.load_state_dict(
            UNet2DModel.from_pretrained(resume, use_safetensors=True, low_cpu_mem_usage=False).state_dict()
        )
        record = resume / "training.json"
        if record.exists():
            earlier = json.loads(record.read_text())
            history = earlier.pop("history", []) + [earlier]
    ema = build_unet().to(dev)
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
        x0 = data[idx.to(dev)]
        noise = torch.randn(x0.shape, generator=gen).to(dev)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch_size,), generator=gen).to(dev)
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
        report(progress, step, steps, f"loss {losses[-1]:.4f}")
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            break
    seconds = time.perf_counter() - start
    info = {
        "steps": done,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "device": str(dev),
        "seconds": seconds,
        "final_loss_mean_last_200": float(np.mean(losses[-200:])),
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "resumed_from": str(resume) if resume is not None else None,
        "history": history,
    }
    inputs = list(Path(resume).iterdir()) if resume is not None else []
    with staged_output(out, protect=inputs, force=force) as stage:
        ema.save_pretrained(stage, safe_serialization=True)
        scheduler.save_pretrained(stage)
        (stage / "training.json").write_text(json.dumps(info, indent=2))
    return info

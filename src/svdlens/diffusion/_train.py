"""``svdlens train-faces``: train a built-in DDPM, reproducibly and resumably.

The DDPM objective of Ho et al. (2020), "Denoising diffusion probabilistic models": a diffusers
``UNet2DModel`` learns to predict the noise ε added at a random step t. Two data sets:

- ``"world"``: an endless stream of faces rendered by :mod:`svdlens.faces.world` (64×64). Batch
  ``i`` is drawn from the seed ``(seed, i)``, so no image is seen twice and a resumed run sees
  exactly the images an uninterrupted one would.
- ``"lfw"``: the 100 built-in faces resized to 32×32 and mirrored (200 images).

The loss is the mean squared error of ε (``loss_weight="epsilon"``, Ho et al.'s "simple" loss),
or the same weighted by 1/ᾱ_t (``"v"``), which is the loss of v-prediction (Salimans & Ho 2022,
"Progressive distillation for fast sampling of diffusion models", §4) written for an
ε-network: with v = √ᾱ ε − √(1−ᾱ) x_0, ‖v − v̂‖² = ‖ε − ε̂‖²/ᾱ. It weights the large timesteps,
where a sample's features are made up, as much as the small ones in x_0 terms; the weight is
capped at ``V_WEIGHT_CAP`` where ᾱ_t → 0. The network still predicts ε, so the model loads and
samples as any other.

AdamW with a linear warm-up and a cosine decay to a tenth of ``lr``; an exponential moving
average of the weights (decay 0.999) is what gets saved, in the diffusers folder format.

Every ``checkpoint_every`` steps the whole training state (weights, EMA, the optimiser's moments,
the step and the loss record) is written to the checkpoint folder (``<out>.checkpoint`` by
default), safetensors and JSON only. ``resume=`` that folder goes on exactly where it stopped:
the weights equal those of a run that never stopped.

:func:`train_like` replays a model's whole training record (its ``training.json`` and the runs in
its ``history``), one run after another, each from the weights of the run before: one call
reproduces a shipped built-in model.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._atomic import staged_output
from .._progress import Progress, report
from .._validation import check_choice, check_float, check_int
from ..exceptions import InvalidParameterError, MissingInputError, ModelLoadError
from ._builtin import (
    ATTENTION_HEAD_DIM,
    BUILTINS,
    build_scheduler,
    build_unet,
    builtin_folder,
    builtin_unet_config,
    face_images,
    world_batch,
)
from ._config import read_json

__all__ = [
    "train_faces",
    "train_like",
    "training_runs",
    "DATA_SETS",
    "LOSS_WEIGHTS",
    "TRAIN_STEPS",
    "TRAIN_BATCH",
    "TRAIN_LR",
    "V_WEIGHT_CAP",
]

DATA_SETS = ("world", "lfw")
"""What a built-in model can be trained on."""
LOSS_WEIGHTS = ("epsilon", "v")
"""How the ε loss is weighted over the timesteps: not at all, or as v-prediction's (1/ᾱ_t, capped)."""
V_WEIGHT_CAP = 20.0
"""The largest weight of ``loss_weight="v"`` (1/ᾱ_t reaches it at t ≈ 870 of 1000 on the cosine schedule)."""

TRAIN_STEPS = 12000
"""Optimiser steps of a default training run."""
TRAIN_BATCH = 16
"""Images per step of a default training run."""
TRAIN_LR = 3e-4
"""AdamW's peak learning rate of a default training run."""

WARMUP = 500  # optimiser steps of linear warm-up
EMA_DECAY = 0.999
LOSS_EVERY = 100  # the loss record keeps the mean of every this many steps
CHECKPOINT = "checkpoint.json"
MAX_LAYERS_PER_BLOCK = 4
MAX_WIDTH = 512


def train_faces(
    out: str | Path = "out/builtin-ddpm",
    *,
    data: str = "world",
    steps: int = TRAIN_STEPS,
    batch_size: int = TRAIN_BATCH,
    lr: float = TRAIN_LR,
    seed: int = 0,
    timesteps: tuple[int, int] | None = None,
    timestep_share: float = 1.0,
    layers_per_block: int | None = None,
    widths: tuple[int, ...] | None = None,
    loss_weight: str = "epsilon",
    device: str | None = None,
    progress: Progress = None,
    time_limit_s: float | None = None,
    resume: str | Path | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
    force: bool = False,
) -> dict:
    """Train and write the diffusers folder ``out`` (model, scheduler, training.json).

    The folder is written whole or not at all (a staging folder, then moved into place).

    Parameters
    ----------
    out : str or pathlib.Path
        The diffusers folder to write; :func:`svdlens.diffusion.load` reads it.
    data : {"world", "lfw"}
        The face world's endless stream (64×64, the ``"builtin"`` model) or the 100 built-in
        real faces (32×32, ``"builtin-lfw"``).
    steps : int
        Optimiser steps in all (a resumed run counts the steps already done).
    batch_size : int
        Images per step.
    lr : float
        AdamW's peak learning rate.
    seed : int
        Seed of the weights, the batches, the noise and the timesteps.
    timesteps : (int, int), optional
        Draw the training timesteps from ``low`` to ``high − 1`` only (default: all 1000). A
        fine-tuning run on the high ones trains where a sample's features are made up (see
        docs/diffusion.md, where the eyes close).
    timestep_share : float
        The share of each batch drawn from ``timesteps`` (rounded to whole images); the rest is
        drawn from all of them, so that a fine-tuning run on the high timesteps still sees the low
        ones. 1 (the default) draws every image from ``timesteps``.
    layers_per_block : int, optional
        ResNet layers in each block of the U-Net (default: the resumed checkpoint's or model's,
        else the built-in architecture's, 1). 2 gives a deeper network of the same widths.
    widths : tuple of int, optional
        The channels of each U-Net block, from the full resolution down (``block_out_channels``;
        default: the resumed checkpoint's or model's, else the built-in's, (16, 32, 64, 128) for
        the world). One per block, each a multiple of the group norm's groups, the attention
        block's a multiple of its head size. (32, 64, 64, 128) gives the full-resolution
        blocks, where a face's small features are drawn, twice the channels.
    loss_weight : {"epsilon", "v"}
        ``"epsilon"`` (the default): the plain ε loss. ``"v"``: each image's ε loss times 1/ᾱ_t,
        capped at ``V_WEIGHT_CAP``, as v-prediction's loss weights the timesteps (see above).
    device : str, optional
        Where to train (default: CUDA when available, else CPU).
    progress : callable, optional
        ``progress(step, steps, label)`` after each step; the label holds the loss.
    time_limit_s : float, optional
        Stop after this many seconds of this run, and save what has been learned.
    resume : str or pathlib.Path, optional
        A checkpoint folder: training goes on exactly where it stopped (same data, schedule and
        optimiser state). Or a finished model folder: training goes on from its (EMA) weights
        with a fresh optimiser, and its training.json is carried into the new one as ``history``.
    checkpoint : str or pathlib.Path, optional
        Where the training state is saved every ``checkpoint_every`` steps and at the end
        (default ``<out>.checkpoint``).
    checkpoint_every : int
        Steps between checkpoints.
    force : bool
        Replace files in ``out`` that svdlens did not write.

    Returns
    -------
    dict
        What training.json records: data, steps done, settings, seconds, seconds per step, the
        mean loss of the last 200 steps, the loss record, the parameter count, the torch version
        and the history.

    Raises
    ------
    MissingInputError
        ``resume`` holds neither a checkpoint nor weights.
    ModelLoadError
        A checkpoint of another data set, seed or batch size than asked for; ``resume`` holds a
        U-Net with another ``layers_per_block`` or ``widths`` than asked for.
    OutputError
        ``out`` is a file, or holds files svdlens did not write (without ``force``), or one
        of ``resume``'s files would be overwritten.
    """
    data = check_choice("data", data, DATA_SETS)
    steps = check_int("steps", steps, high=10_000_000)
    batch_size = check_int("batch_size", batch_size, high=4096)
    lr = check_float("lr", lr, low=0.0, low_open=True)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every)
    seed = check_int("seed", seed, low=0)
    loss_weight = check_choice("loss_weight", loss_weight, LOSS_WEIGHTS)
    scheduler = build_scheduler()
    total = scheduler.config.num_train_timesteps
    low, high = check_timesteps(timesteps, total)
    timestep_share = check_timestep_share(timestep_share, timesteps is not None)
    focused = round(timestep_share * batch_size)
    torch.manual_seed(seed)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    layers, widths = _network(data, resume, layers_per_block, widths)
    model, ema = build_unet(data, layers, widths).to(dev), build_unet(data, layers, widths).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    state: dict[str, Any] = {
        "data": data,
        "seed": seed,
        "batch_size": batch_size,
        "lr": lr,
        "timesteps": None if timesteps is None else [low, high],
        "timestep_share": timestep_share,
        "layers_per_block": layers,
        "widths": list(widths),
        "loss_weight": loss_weight,
        "done": 0,
        "seconds": 0.0,
        "losses": [],
    }
    history: list[dict] = []
    if resume is not None and (Path(resume) / CHECKPOINT).exists():
        state = _load_checkpoint(
            Path(resume),
            model,
            ema,
            opt,
            dict(
                data=data,
                seed=seed,
                batch_size=batch_size,
                timesteps=state["timesteps"],
                timestep_share=timestep_share,
                loss_weight=loss_weight,
            ),
        )
        # Checked by _network; recorded where an older checkpoint did not.
        state |= {"layers_per_block": layers, "widths": list(widths)}
        history = state.pop("history", [])
    else:
        if resume is not None:
            history = _load_weights(Path(resume), model)
        ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    weights = _loss_weights(scheduler.alphas_cumprod, loss_weight, dev)
    images = face_images().to(dev) if data == "lfw" else None
    gen = torch.Generator(device="cpu")
    ckpt = Path(checkpoint) if checkpoint is not None else Path(f"{Path(out)}.checkpoint")
    losses: list[float] = []
    start, first = time.perf_counter(), state["done"] + 1
    model.train()
    for step in range(first, steps + 1):
        gen.manual_seed(seed * 1_000_003 + step)  # every batch from its own seed: resumable, never repeated
        if images is None:
            x0 = world_batch(batch_size, seed, step).to(dev)
        else:
            x0 = images[torch.randint(0, len(images), (batch_size,), generator=gen).to(dev)]
        noise = torch.randn(x0.shape, generator=gen).to(dev)
        t = torch.randint(low, high, (focused,), generator=gen)
        if focused < batch_size:
            t = torch.cat([t, torch.randint(0, total, (batch_size - focused,), generator=gen)])
        t = t.to(dev)
        for group in opt.param_groups:
            group["lr"] = _learning_rate(step, steps, lr)
        predicted = model(scheduler.add_noise(x0, noise, t), t).sample
        if weights is None:
            loss = torch.nn.functional.mse_loss(predicted, noise)
        else:
            loss = (weights[t] * (predicted - noise).pow(2).flatten(1).mean(1)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            decay = EMA_DECAY if history else min(EMA_DECAY, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            raise ModelLoadError(f"training diverged at step {step} (loss {losses[-1]}); lower lr")
        if step % LOSS_EVERY == 0:
            state["losses"].append(float(np.mean(losses[-LOSS_EVERY:])))
        state["done"] = step
        report(progress, step, steps, f"loss {losses[-1]:.4f}")
        out_of_time = time_limit_s is not None and time.perf_counter() - start > time_limit_s
        if step % checkpoint_every == 0 or step == steps or out_of_time:
            _save_checkpoint(
                ckpt,
                model,
                ema,
                opt,
                {**state, "seconds": state["seconds"] + time.perf_counter() - start, "history": history},
            )
        if out_of_time:
            break
    seconds = state["seconds"] + time.perf_counter() - start
    done_here = max(state["done"] - first + 1, 0)
    info = {
        "data": data,
        "steps": state["done"],
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "timesteps": state["timesteps"],
        "timestep_share": timestep_share,
        "layers_per_block": layers,
        "widths": list(widths),
        "loss_weight": loss_weight,
        "device": str(dev),
        "seconds": seconds,
        "seconds_per_step_this_run": (time.perf_counter() - start) / done_here if done_here else None,
        "torch_threads": torch.get_num_threads(),
        "final_loss_mean_last_200": float(np.mean(losses[-200:])) if losses else None,
        "loss_every_100_steps": state["losses"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "resumed_from": str(resume) if resume is not None else None,
        "checkpoint": str(ckpt),
        "history": history,
    }
    inputs = list(Path(resume).iterdir()) if resume is not None else []
    with staged_output(out, protect=inputs, force=force) as stage:
        ema.save_pretrained(stage, safe_serialization=True)
        scheduler.save_pretrained(stage)
        (stage / "training.json").write_text(json.dumps(info, indent=2))
    return info


RUN_SETTINGS = ("data", "steps", "batch_size", "lr", "seed")
"""What a run of a training record must name for :func:`train_like` to replay it."""


def training_runs(source: str | Path) -> list[dict[str, Any]]:
    """The runs that made ``source``, oldest first: ``[{data, steps, batch_size, lr, seed}, ...]``.

    Each run also has ``timesteps``: ``[low, high]`` for a run on part of them, else None,
    ``timestep_share``: the share of each batch drawn from them (1 where the record is older), and
    ``layers_per_block`` and ``widths``: the U-Net's depth and channels (where the record is older,
    the model's ``config.json``'s), and ``loss_weight`` (``"epsilon"`` where the record is older).

    ``source`` is a built-in name (``"builtin"``, ``"builtin-lfw"``) or a model folder written by
    :func:`train_faces`; its ``training.json`` holds the last run and, in ``history``, the runs
    before it. A record without ``data`` (the real-face model's older runs) takes the built-in's.
    """
    folder = builtin_folder(source) or Path(source)
    record = folder / "training.json"
    if not record.is_file():
        raise MissingInputError(
            f"no training record in {folder}: a model is trained like another from the training.json that "
            f"svdlens train-faces writes; give a built-in name ({', '.join(BUILTINS)}) or a folder it wrote"
        )
    last = json.loads(record.read_text())
    fallback = BUILTINS[str(source)].data if builtin_folder(source) is not None else None
    config = folder / "config.json"
    made = read_json(config) if config.is_file() else {}
    runs = []
    for i, run in enumerate([*last.get("history", []), last], start=1):
        run = {"data": fallback, **{k: v for k, v in run.items() if k != "data" or v is not None}}
        missing = [k for k in RUN_SETTINGS if run.get(k) is None]
        if missing:
            raise InvalidParameterError(
                f"run {i} of the training record in {record} does not say its {', '.join(missing)}"
            )
        runs.append(
            {
                **{k: run.get(k) for k in (*RUN_SETTINGS, "timesteps")},
                "timestep_share": run.get("timestep_share", 1.0),
                "layers_per_block": run.get("layers_per_block", made.get("layers_per_block")),
                "widths": _listed(run.get("widths", made.get("block_out_channels"))),
                "loss_weight": run.get("loss_weight", "epsilon"),
            }
        )
    return runs


def train_like(
    source: str | Path,
    out: str | Path,
    *,
    runs: list[dict[str, Any]] | None = None,
    device: str | None = None,
    progress: Progress = None,
    time_limit_s: float | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Train a model the way ``source`` was trained: every run of its record, in order.

    Run 1 starts from fresh weights; run i > 1 from run i − 1's saved (EMA) weights with a fresh
    optimiser, as ``svdlens train-faces --resume <folder>`` does. Runs before the last are written
    to ``<out>.runs/<i>`` (checkpoints beside them); the last to ``out``. Called again, finished
    runs are skipped and a stopped one goes on from its checkpoint, so the weights equal those of
    one uninterrupted call (to float rounding, which depends on the number of torch threads).

    Parameters
    ----------
    source : str or pathlib.Path
        A built-in name (``"builtin"``: the face world, two runs) or a folder written by
        :func:`train_faces`.
    out : str or pathlib.Path
        The folder of the finished model.
    runs : list of dict, optional
        The runs instead of ``source``'s record (``{data, steps, batch_size, lr, seed}`` each,
        and ``timesteps``, ``timestep_share`` where a run drew from part of them, ``loss_weight``
        where it weighted them, ``layers_per_block`` and ``widths`` where its network was not the
        built-in's).
    device, progress, force
        As for :func:`train_faces`; progress counts the steps of all runs together.
    time_limit_s : float, optional
        Stop (with every run's state saved) after this much training time; call again to go on.

    Returns
    -------
    dict
        The last run's training record, or the stopped run's, with ``run`` (its number), ``runs``
        (how many) and ``stopped`` (stopped by ``time_limit_s`` before its last step).

    Raises
    ------
    MissingInputError
        ``source`` holds no training record.
    InvalidParameterError
        A run of the record does not name its settings.
    """
    runs = training_runs(source) if runs is None else runs
    out = Path(out)
    total = sum(int(run["steps"]) for run in runs)
    start, offset, previous = time.perf_counter(), 0, None
    info: dict[str, Any] = {}
    for i, run in enumerate(runs, start=1):
        folder = out if i == len(runs) else out.parent / f"{out.name}.runs" / str(i)
        checkpoint = Path(f"{folder}.checkpoint")
        info = _finished(folder, run)
        if not info:
            resume = checkpoint if (checkpoint / CHECKPOINT).exists() else previous
            left = None if time_limit_s is None else max(time_limit_s - (time.perf_counter() - start), 0.0)

            def counted(done: int, _total: int, label: str, i: int = i, offset: int = offset) -> None:
                report(progress, offset + done, total, f"run {i}/{len(runs)} · {label}")

            info = train_faces(
                folder, **run, device=device, progress=counted, time_limit_s=left, resume=resume,
                checkpoint=checkpoint, force=force or i < len(runs),
            )  # fmt: skip
            if info["steps"] < run["steps"]:
                return {**info, "run": i, "runs": len(runs), "stopped": True}
        offset += int(run["steps"])
        previous = folder
    return {**info, "run": len(runs), "runs": len(runs), "stopped": False}


def _finished(folder: Path, run: dict[str, Any]) -> dict[str, Any]:
    """``folder``'s training record if it is ``run`` done to its last step, else an empty dict."""
    record = folder / "training.json"
    if not record.is_file():
        return {}
    info = json.loads(record.read_text())
    return info if all(info.get(k) == v for k, v in run.items()) else {}


def check_timesteps(timesteps: tuple[int, int] | None, total: int) -> tuple[int, int]:
    """``(low, high)`` of the training timesteps, checked: 0 ≤ low < high ≤ total (all of them when None)."""
    if timesteps is None:
        return 0, total
    if len(timesteps) != 2:
        raise InvalidParameterError(f"timesteps must be (low, high); got {timesteps!r}")
    low = check_int("timesteps' low end", timesteps[0], low=0, high=total - 1)
    high = check_int("timesteps' high end", timesteps[1], low=low + 1, high=total)
    return low, high


def check_timestep_share(
    share: float, has_timesteps: bool, name: str = "timestep_share", timesteps_name: str = "timesteps"
) -> float:
    """The share of each batch drawn from the timesteps asked for, in [0, 1]; below 1 only when some are asked for."""
    share = check_float(name, share, low=0.0, high=1.0)
    if share < 1.0 and not has_timesteps:
        raise InvalidParameterError(
            f"{name} is the share of each batch drawn from {timesteps_name}; give {timesteps_name} too"
        )
    return share


def _loss_weights(alphas_cumprod: torch.Tensor, loss_weight: str, device: torch.device) -> torch.Tensor | None:
    """Each timestep's weight on the ε loss: None for the plain loss, else 1/ᾱ_t capped at ``V_WEIGHT_CAP``."""
    if loss_weight == "epsilon":
        return None
    return (1.0 / alphas_cumprod.double()).clamp(max=V_WEIGHT_CAP).float().to(device)


def _learning_rate(step: int, steps: int, lr: float) -> float:
    """Linear warm-up over ``WARMUP`` steps, then a cosine decay to ``lr / 10`` at ``steps``."""
    if step <= WARMUP:
        return lr * step / WARMUP
    frac = (step - WARMUP) / max(steps - WARMUP, 1)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def _network(
    data: str, resume: str | Path | None, layers_per_block: int | None, widths: Any
) -> tuple[int, tuple[int, ...]]:
    """The U-Net's depth and widths: as asked, else the resumed checkpoint's or model's, else the built-in's.

    A resumed network keeps its architecture, so asking it for another is refused here, before
    anything is built, rather than by torch's missing-key error.
    """
    builtin_config = builtin_unet_config(data)
    builtin: dict[str, Any] = {
        "layers_per_block": builtin_config["layers_per_block"],
        "widths": list(builtin_config["block_out_channels"]),
    }
    found: dict[str, Any] = {}
    where = Path(resume) if resume is not None else None
    if where is not None and (where / CHECKPOINT).is_file():
        record = read_json(where / CHECKPOINT)
        found = {key: record.get(key, default) for key, default in builtin.items()}
    elif where is not None and (where / "config.json").is_file():
        config = read_json(where / "config.json")
        found = {
            "layers_per_block": config.get("layers_per_block"),
            "widths": _listed(config.get("block_out_channels")),
        }
    asked = {
        "layers_per_block": None
        if layers_per_block is None
        else check_int("layers_per_block", layers_per_block, high=MAX_LAYERS_PER_BLOCK),
        "widths": None if widths is None else list(check_widths(widths, data)),
    }
    chosen: dict[str, Any] = {}
    for key, default in builtin.items():
        have, want = found.get(key), asked[key]
        if want is not None and have is not None and have != want:
            raise ModelLoadError(
                f"{where} holds a U-Net with {key}={have}, not {want}: a resumed run keeps its "
                f"network; leave {key} out, or start afresh"
            )
        chosen[key] = want if want is not None else have if have is not None else default
    return int(chosen["layers_per_block"]), tuple(int(w) for w in chosen["widths"])


def check_widths(widths: Any, data: str = "world", name: str = "widths") -> tuple[int, ...]:
    """The channels of each block of the built-in U-Net for ``data``, checked: one per block, each fit for its norms and heads."""
    config = builtin_unet_config(data)
    blocks, groups = len(config["block_out_channels"]), config["norm_num_groups"]
    try:
        values = tuple(int(w) for w in widths)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be {blocks} whole numbers, one per block; got {widths!r}") from None
    if len(values) != blocks or any(v != w for v, w in zip(values, widths)):
        raise InvalidParameterError(f"{name} must be {blocks} whole numbers, one per block; got {widths!r}")
    for i, value in enumerate(values):
        check_int(f"{name}[{i}]", value, low=groups, high=MAX_WIDTH)
        if value % groups:
            raise InvalidParameterError(
                f"{name}[{i}] must be a multiple of {groups} (the group norm's groups); got {value}"
            )
    for i, kind in enumerate(config["down_block_types"]):
        if kind.startswith("Attn") and values[i] % ATTENTION_HEAD_DIM:
            raise InvalidParameterError(
                f"{name}[{i}] must be a multiple of {ATTENTION_HEAD_DIM} (its attention's head size); got {values[i]}"
            )
    return values


def _listed(widths: Any) -> list[int] | None:
    """Widths as a JSON record holds them (a list), or None."""
    return None if widths is None else [int(w) for w in widths]


def _load_weights(folder: Path, model: torch.nn.Module) -> list[dict]:
    """Weights of a finished model folder into ``model``; its training record as history."""
    from diffusers import UNet2DModel

    if not (folder / "diffusion_pytorch_model.safetensors").exists():
        raise MissingInputError(
            f"nothing to resume in {folder}: no {CHECKPOINT} (a checkpoint) and no diffusion_pytorch_model.safetensors"
        )
    model.load_state_dict(
        UNet2DModel.from_pretrained(folder, use_safetensors=True, low_cpu_mem_usage=False).state_dict()
    )
    record = folder / "training.json"
    if not record.exists():
        return []
    earlier = json.loads(record.read_text())
    return earlier.pop("history", []) + [earlier]


def _save_checkpoint(
    folder: Path, model: torch.nn.Module, ema: torch.nn.Module, opt: torch.optim.Optimizer, state: dict
) -> None:
    """The whole training state, safetensors and JSON only, replaced as one folder."""
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"ema.{k}": v for k, v in ema.state_dict().items()}
    saved = opt.state_dict()
    for index, moments in saved["state"].items():
        tensors |= {f"adam.{index}.{key}": torch.as_tensor(value) for key, value in moments.items()}
    with staged_output(folder, force=True) as stage:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(stage / "state.safetensors"))
        (stage / CHECKPOINT).write_text(json.dumps({**state, "param_groups": saved["param_groups"]}, indent=1))


def _load_checkpoint(
    folder: Path, model: torch.nn.Module, ema: torch.nn.Module, opt: torch.optim.Optimizer, asked: dict[str, Any]
) -> dict:
    """The state :func:`_save_checkpoint` wrote, into ``model``, ``ema`` and ``opt``; the JSON state back."""
    from safetensors.torch import load_file

    state = read_json(folder / CHECKPOINT)
    state.setdefault("timestep_share", 1.0)  # checkpoints from before the option drew every image from timesteps
    state.setdefault("loss_weight", "epsilon")  # and weighted no timestep
    for key, value in asked.items():
        if state.get(key) != value:
            raise ModelLoadError(
                f"the checkpoint in {folder} was trained with {key}={state.get(key)!r}, not {value!r}; "
                f"resume it with the same {key}"
            )
    tensors = load_file(str(folder / "state.safetensors"))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("adam."):
            _, index, name = key.split(".", 2)
            moments.setdefault(int(index), {})[name] = value
    opt.load_state_dict({"state": moments, "param_groups": state.pop("param_groups")})
    return state

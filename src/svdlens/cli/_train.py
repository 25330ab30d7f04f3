"""``svdlens train-faces``: train the built-in face DDPM."""

from __future__ import annotations

from typing import Optional

import typer

from .._validation import check_choice, check_float, check_int
from ..diffusion import train_faces
from ..diffusion._train import (
    DATA_SETS,
    LOSS_WEIGHTS,
    MAX_LAYERS_PER_BLOCK,
    TRAIN_BATCH,
    TRAIN_LR,
    TRAIN_STEPS,
    check_timestep_share,
    check_widths,
    train_like,
)
from ..exceptions import InvalidParameterError
from ._main import FORCE, JSON, QUIET, app, emit, handled, out_option, progress_bar

RUN_FLAGS = {"data": "--data", "steps": "--steps", "batch_size": "--batch-size", "lr": "--lr", "seed": "--seed",
             "resume": "--resume", "timesteps": "--timesteps", "timestep_share": "--timestep-share",
             "layers_per_block": "--layers-per-block", "widths": "--widths",
             "loss_weight": "--loss-weight"}  # fmt: skip
"""The flags that --like takes from the model's training record instead."""

__all__ = ["train_faces_command"]


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether option ``name`` was set on the command line (typer bundles its own click: compare by name)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def _timesteps(text: str | None) -> tuple[int, int] | None:
    """``--timesteps LOW:HIGH`` as two whole numbers (checked in range by the library)."""
    if text is None:
        return None
    parts = text.split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InvalidParameterError(f"--timesteps takes LOW:HIGH, two whole numbers such as 450:1000; got {text!r}")
    return int(parts[0]), int(parts[1])


def _widths(text: str | None) -> tuple[int, ...] | None:
    """``--widths 32,64,64,128`` as whole numbers (checked per block by the library)."""
    if text is None:
        return None
    parts = text.split(",")
    if not all(p.strip().isdigit() for p in parts):
        raise InvalidParameterError(
            f"--widths takes the channels of each block, whole numbers such as 32,64,64,128; got {text!r}"
        )
    return tuple(int(p) for p in parts)


@app.command("train-faces")
def train_faces_command(
    ctx: typer.Context,
    out: str = out_option(
        "out/builtin-ddpm", help="Folder for the diffusers model and scheduler (safetensors + configs)."
    ),
    data: str = typer.Option(
        "world",
        "--data",
        help="world: the face world's endless stream, 64×64 (the builtin model); lfw: the 100 built-in faces, "
        "32×32 (builtin-lfw).",
    ),
    steps: int = typer.Option(TRAIN_STEPS, "--steps", help="Training steps (batches of --batch-size images)."),
    batch_size: int = typer.Option(TRAIN_BATCH, "--batch-size", help="Images per step."),
    lr: float = typer.Option(TRAIN_LR, "--lr", help="AdamW's peak learning rate (warm-up, then cosine decay)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the data order, noise and initial weights."),
    timesteps: Optional[str] = typer.Option(
        None,
        "--timesteps",
        help="LOW:HIGH: train on the timesteps LOW to HIGH-1 only (default all 1000); e.g. 450:1000 to fine-tune "
        "where a sample's features are made up.",
    ),
    timestep_share: float = typer.Option(
        1.0,
        "--timestep-share",
        help="With --timesteps: the share of each batch drawn from LOW:HIGH; the rest from all 1000, so that the "
        "other timesteps are not forgotten (default 1: all of it).",
    ),
    layers_per_block: Optional[int] = typer.Option(
        None,
        "--layers-per-block",
        help="ResNet layers in each U-Net block (default: the resumed model's, else the built-in's, 1); 2 gives a "
        "deeper network of the same widths.",
    ),
    widths: Optional[str] = typer.Option(
        None,
        "--widths",
        help="The channels of each U-Net block, full resolution first, e.g. 32,64,64,128 (default: the resumed "
        "model's, else the built-in's, 16,32,64,128 for the world).",
    ),
    loss_weight: str = typer.Option(
        "epsilon",
        "--loss-weight",
        help="epsilon: the plain ε loss; v: each timestep's loss times 1/ᾱ_t (capped at 20), as v-prediction's "
        "loss weighs them, so that the large timesteps count as much as the small ones.",
    ),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="Stop after this much training time."),
    resume: Optional[str] = typer.Option(
        None,
        "--resume",
        help="A checkpoint folder (OUT.checkpoint: exactly where it stopped) or a model folder (its weights).",
    ),
    like: Optional[str] = typer.Option(
        None,
        "--like",
        help="Replay the whole training record of a model (builtin, builtin-lfw or a folder this command wrote): "
        "every run in order, each from the weights of the one before. Run again to go on after a stop.",
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Train a built-in face DDPM: on the face world (the builtin model) or the built-in real faces (builtin-lfw).

    On a GPU where there is one, else the CPU. The training state goes to OUT.checkpoint every 500 steps.

    Examples:

        svdlens train-faces --out out/builtin-ddpm --minutes 25

        svdlens train-faces --data lfw --out out/lfw-ddpm

        svdlens train-faces --steps 200 --out /tmp/tiny --quiet

        svdlens train-faces --resume out/builtin-ddpm.checkpoint --out out/builtin-ddpm

        svdlens train-faces --resume out/world --timesteps 450:1000 --steps 3000 --lr 1e-4 --seed 3 --out out/high

        svdlens train-faces --resume out/world --timesteps 450:1000 --timestep-share 0.75 --steps 6000 --lr 1e-4 --seed 6 --out out/mix

        svdlens train-faces --layers-per-block 2 --steps 16000 --out out/deep    # a deeper U-Net

        svdlens train-faces --resume out/deep --loss-weight v --steps 8000 --lr 1e-4 --seed 2 --out out/v

        svdlens train-faces --widths 32,64,64,128 --steps 8000 --out out/wide    # wider full-resolution blocks

        svdlens train-faces --like builtin --out out/world    # the shipped face-world model, all its runs
    """
    with handled():
        given = [flag for name, flag in RUN_FLAGS.items() if _given(ctx, name)]
        if like is not None and given:
            raise InvalidParameterError(
                f"--like takes every run's settings from the training record of {like}; leave out {', '.join(given)}"
            )
        data = check_choice("--data", data, DATA_SETS)
        loss_weight = check_choice("--loss-weight", loss_weight, LOSS_WEIGHTS)
        steps = check_int("--steps", steps, high=10_000_000)
        batch_size = check_int("--batch-size", batch_size, high=4096)
        if layers_per_block is not None:
            layers_per_block = check_int("--layers-per-block", layers_per_block, high=MAX_LAYERS_PER_BLOCK)
        lr = check_float("--lr", lr, low=0.0, low_open=True)
        blocks = None if widths is None else check_widths(_widths(widths), data, "--widths")
        span = _timesteps(timesteps)
        timestep_share = check_timestep_share(
            timestep_share, span is not None, "--timestep-share", "--timesteps LOW:HIGH"
        )
        limit = check_float("--minutes", minutes, low=0.0, low_open=True) * 60 if minutes is not None else None
        with progress_bar(quiet or as_json, "training") as bar:
            if like is not None:
                info = train_like(like, out, progress=bar, time_limit_s=limit, force=force)
            else:
                info = train_faces(
                    out,
                    data=data,
                    steps=steps,
                    batch_size=batch_size,
                    lr=lr,
                    seed=seed,
                    timesteps=span,
                    timestep_share=timestep_share,
                    layers_per_block=layers_per_block,
                    widths=blocks,
                    loss_weight=loss_weight,
                    progress=bar,
                    time_limit_s=limit,
                    resume=resume,
                    force=force,
                )
    head = ""
    if like is not None:
        stopped = "stopped by --minutes; run the same command again to go on; " if info["stopped"] else ""
        head = f"run {info['run']} of {info['runs']} like {like}: {stopped}"
    text = [
        head + f"{info['steps']} steps in {info['seconds']:.0f} s on {info['device']}; "
        f"final loss {info['final_loss_mean_last_200']:.4f}; wrote {out}/"
    ]
    emit(info, as_json=as_json, text=text)

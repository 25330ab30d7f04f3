"""``svdlens train-faces``: train the built-in face DDPM."""

from __future__ import annotations

from typing import Optional

import typer

from .._validation import check_float, check_int
from ..diffusion import train_faces
from ._main import FORCE, JSON, QUIET, app, emit, handled, out_option, progress_bar

__all__ = ["train_faces_command"]


@app.command("train-faces")
def train_faces_command(
    out: str = out_option(
        "out/builtin-ddpm", help="Folder for the diffusers model and scheduler (safetensors + configs)."
    ),
    steps: int = typer.Option(20000, "--steps", help="Training steps (batches of --batch-size images)."),
    batch_size: int = typer.Option(16, "--batch-size", help="Images per step."),
    lr: float = typer.Option(5e-4, "--lr", help="AdamW learning rate."),
    seed: int = typer.Option(0, "--seed", help="Seed of the data order, noise and initial weights."),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="Stop after this much training time."),
    resume: Optional[str] = typer.Option(
        None, "--resume", help="Go on from the weights in this folder (an earlier --out)."
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Train the built-in face DDPM on the built-in faces (on a GPU where there is one, else the CPU).

    Examples:

        svdlens train-faces --out out/builtin-ddpm --minutes 25

        svdlens train-faces --steps 200 --out /tmp/tiny --quiet

        svdlens train-faces --resume out/builtin-ddpm --lr 2e-4 --minutes 40 --out out/ddpm-2
    """
    with handled():
        steps = check_int("--steps", steps, high=10_000_000)
        batch_size = check_int("--batch-size", batch_size, high=4096)
        lr = check_float("--lr", lr, low=0.0, low_open=True)
        limit = check_float("--minutes", minutes, low=0.0, low_open=True) * 60 if minutes is not None else None
        with progress_bar(quiet or as_json, "training") as bar:
            info = train_faces(
                out,
                steps=steps,
                batch_size=batch_size,
                lr=lr,
                seed=seed,
                progress=bar,
                time_limit_s=limit,
                resume=resume,
                force=force,
            )
    text = [
        f"{info['steps']} steps in {info['seconds']:.0f} s on {info['device']}; "
        f"final loss {info['final_loss_mean_last_200']:.4f}; wrote {out}/"
    ]
    emit(info, as_json=as_json, text=text)

"""Benchmark: how faithful DDIM inversion is — the round trip image → x_t → image against refinement.

DDIM inversion takes the noise prediction at the point it leaves where the sampling step it
undoes uses the one at the point it reaches; fixed-point refinement (AIDI, Pan et al. 2023;
ReNoise, Garibi et al. 2024) corrects each step until the model's own sampling step takes it
back (``pipe.invert(refine=N)``). PSNR of the round trip at t = 1, 50 steps, against the
iterations, and its cost in U-Net calls:

- the real-face model ``builtin-lfw`` (it memorises its 100 training faces) on those faces;
- its inversion with the x̂0 clipping of its scheduler config (``clip_sample``, which diffusers'
  ``DDIMInverseScheduler`` would apply; svdlens's inversion leaves it out), to show what the
  clipping alone costs, and with more DDIM steps, to show that more steps alone do not help;
- the face-world model ``builtin`` on 16 renders of its world's gallery (images it has never seen:
  it trained on an endless stream of fresh renders);
- the tiny random Stable Diffusion of the tests, without and with guidance (3), at t = 0.5.

    python bench/inversion.py            # writes bench/results/inversion.md and .json
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import svdlens as sl
from _common import markdown_table, write_results

REFINES = (0, 1, 2, 3, 5)
LFW = "builtin-lfw, its 100 faces"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean PSNR (dB) of images in [0, 1]."""
    return float(np.mean([10 * np.log10(1 / max(np.mean((p - q) ** 2), 1e-20)) for p, q in zip(a, b)]))


def round_trip_row(
    model: str,
    setting: str,
    refine: int,
    back: np.ndarray,
    target: np.ndarray,
    calls: int | None = None,
    seconds: float | None = None,
) -> dict:
    """One table row: a round trip's PSNR against its target, printed as it is made."""
    row = {
        "model": model,
        "setting": setting,
        "refine": refine,
        "PSNR (dB)": psnr(back, target),
        "U-Net calls per image": calls,
        "s": seconds,
    }
    print(row, flush=True)
    return row


def main() -> None:
    from diffusers import DDIMInverseScheduler

    rows = []
    pipe = sl.diffusion.load("builtin-lfw")  # the real-face model: the recorded tables are its
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 25×25 faces are resized to 32×32, with a note
        faces = sl.faces.builtin()
        target = pipe.to_images(pipe.encode(faces))
        for refine in REFINES:
            t0 = time.perf_counter()
            back = pipe.generate(pipe.invert(faces, t=1.0, steps=50, refine=refine), t=1.0, steps=50)
            rows.append(
                round_trip_row(
                    LFW, "t = 1, 50 steps", refine, back, target, 50 * (1 + refine) + 50, time.perf_counter() - t0
                )
            )
        grid = pipe._schedule.grid(1.0, 50)
        inverse = DDIMInverseScheduler.from_config({**grid.inverse.config, "clip_sample": True})
        inverse.num_inference_steps, inverse.timesteps = 50, grid.inverse.timesteps
        clipped = dataclasses.replace(grid, inverse=inverse)  # diffusers' scheduler from the model's config
        xt = pipe._ddim.invert(faces, clipped, prompt=None, negative_prompt=None, guidance_scale=1.0, refine=0)
        back = pipe.generate(xt, t=1.0, steps=50)
        setting = "t = 1, 50 steps, with the config's x̂0 clipping in the inversion"
        rows.append(round_trip_row(LFW, setting, 0, back, target, 100))
        for steps in (100, 200):
            back = pipe.generate(pipe.invert(faces, t=1.0, steps=steps, refine=0), t=1.0, steps=steps)
            rows.append(round_trip_row(LFW, f"t = 1, {steps} steps", 0, back, target, 2 * steps))
        world = sl.diffusion.load("builtin")
        renders = sl.faces.world.render(sl.faces.world.gallery(16))
        for refine in (0, 1, 3):
            t0 = time.perf_counter()
            back = world.generate(world.invert(renders, t=1.0, steps=50, refine=refine), t=1.0, steps=50)
            seconds = time.perf_counter() - t0
            label = "builtin (face world), 16 gallery renders"
            rows.append(
                round_trip_row(label, "t = 1, 50 steps", refine, back, renders, 50 * (1 + refine) + 50, seconds)
            )
        from tiny_pipelines import tiny_stable_diffusion

        sd = sl.diffusion.load(tiny_stable_diffusion(Path(tempfile.mkdtemp()) / "sd"))
        images = np.random.default_rng(0).random((4, 3, 32, 32)).astype(np.float32)
        for guidance in (1.0, 3.0):
            target_sd = sd.to_images(sd.encode(images))  # what the VAE can give back at best
            for refine in (0, 1, 3):
                xt = sd.invert(images, t=0.5, steps=10, prompt="a face", guidance_scale=guidance, refine=refine)
                back = sd.generate(xt, t=0.5, steps=10, prompt="a face", guidance_scale=guidance)
                label = "tiny random Stable Diffusion (latent 16×16)"
                rows.append(round_trip_row(label, f"t = 0.5, 10 steps, guidance {guidance:g}", refine, back, target_sd))
    notes = [
        "PSNR against what the model's own encoding gives back (the 25×25 faces resized to 32×32; for SD, the "
        "VAE's decoding of the image's latent), so the VAE's own loss is not counted.",
        "The real-face model (builtin-lfw) memorises its 100 training faces; these are its own faces. The face-world "
        "model (builtin) is measured on renders of its world's gallery, against the renders themselves.",
        "U-Net calls per image: the inversion's (1 + refine per step) and the generation's.",
    ]
    path = write_results(
        "inversion",
        "python bench/inversion.py",
        {"DDIM round trip against fixed-point refinement": markdown_table(rows, list(rows[0]))},
        {"rows": rows},
        notes,
    )
    print(path.read_text())


if __name__ == "__main__":
    main()

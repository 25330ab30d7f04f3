"""The ``svdlens directions``, ``edit`` and ``transport`` jobs: library calls that write a folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..atomic import staged_output
from ..plotting import save_animation, save_figure
from ..nets.transport import METHODS
from .figures import grid_animation, image_grid
from .pipeline import FacePipeline

__all__ = ["read_image", "parse_strengths", "run_directions", "run_edit", "run_transport"]


def read_image(spec: str) -> np.ndarray:
    """``builtin:N`` (the N-th built-in face) or an image file → (h, w) or (c, h, w) in [0, 1]."""
    if spec.startswith("builtin:"):
        from ..faces import builtin

        faces = builtin("faces")
        try:
            return faces[int(spec.split(":", 1)[1])]
        except (ValueError, IndexError):
            raise ValueError(f"{spec!r}: use builtin:0 to builtin:{len(faces) - 1}") from None
    from PIL import Image

    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"no image file {path}")
    try:
        with Image.open(path) as img:
            if img.mode in ("L", "1", "P", "I", "I;16"):
                return np.asarray(img.convert("L"), dtype=np.float64) / 255
            return np.moveaxis(np.asarray(img.convert("RGB"), dtype=np.float64) / 255, -1, 0)
    except OSError as err:
        raise ValueError(f"cannot read the image {path}: {err}") from None


def parse_strengths(text: str) -> list[float]:
    """``"-3:3:7"`` (start:stop:count) or ``"-2,0,2"`` → a signed range of strengths."""
    try:
        if ":" in text:
            a, b, n = text.split(":")
            return [float(v) for v in np.linspace(float(a), float(b), int(n))]
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"strengths must look like -3:3:7 or -2,0,2; got {text!r}") from None


def _start(pipe: FacePipeline, image, seed, t, steps):
    if (image is None) == (seed is None):
        raise ValueError("give --image FILE (or builtin:N) or --seed N")
    if image is not None:
        img = read_image(image)
        return img, pipe.invert(img[None] if img.ndim == 2 else img[None], t, steps)
    xt = pipe.noisy_sample(seed, t, steps)
    return pipe.generate(xt, t, steps)[0], xt


def run_directions(pipe: FacePipeline, out, *, image=None, seed=None, t=0.6, k=5, steps=50) -> dict:
    from ..nets.figures import direction_images, spectrum_plot

    start = time.perf_counter()
    img, xt = _start(pipe, image, seed, t, steps)
    basis = pipe.directions(xt=xt, t=t, k=k, steps=steps)
    seconds = time.perf_counter() - start
    summary = {"image": image, "seed": seed, "t": t, "k": k, "singular_values": basis.s.tolist(),
               "residuals": basis.residuals.tolist(), "converged": basis.converged, "n_jvp": basis.n_jvp,
               "n_vjp": basis.n_vjp, "seconds": seconds}
    with staged_output(out) as stage:
        save_figure(spectrum_plot(basis), stage / "spectrum.png")
        save_figure(direction_images(basis), stage / "directions.png")
        save_figure(image_grid(np.asarray(img)[None, None], ["start"], ["image"]), stage / "start.png")
        basis.save(stage / "basis.safetensors")
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_edit(pipe: FacePipeline, out, *, image=None, seed=None, directions=(1,), strengths=(-3, 0, 3), t=0.6,
             steps=50, guidance=0) -> dict:
    start = time.perf_counter()
    img, xt = _start(pipe, image, seed, t, steps)
    k = max(directions)
    basis = pipe.directions(xt=xt, t=t, k=k, steps=steps)
    rows = [pipe.edit(v=basis.v[d - 1], strengths=strengths, t=t, steps=steps, xt=xt, guidance=guidance)
            for d in directions]
    grid = np.stack(rows)
    seconds = time.perf_counter() - start
    labels = [f"v{d}" for d in directions]
    cols = [f"{s:+g}" for s in strengths]
    summary = {"image": image, "seed": seed, "t": t, "directions": list(directions), "strengths": list(strengths),
               "guidance": guidance, "singular_values": basis.s.tolist(), "seconds": seconds}
    with staged_output(out) as stage:
        save_figure(image_grid(grid, labels, cols, "edits along the local basis"), stage / "edit.png")
        save_animation(grid_animation(grid, labels, cols), stage / "edit.gif", fps=3)
        np.save(stage / "edit.npy", grid)
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_transport(pipe: FacePipeline, out, *, source, targets, direction=1, strengths=(-3, 0, 3), t=0.6, steps=50,
                  k=10, method="project", damp=None) -> dict:
    if method not in METHODS:  # before any model work
        raise ValueError(f"--method must be one of {', '.join(METHODS)}; got {method!r}")
    if damp is not None and not 0 <= damp < float("inf"):
        raise ValueError(f"--damp must be a finite number ≥ 0; got {damp}")
    start = time.perf_counter()
    _, xt_src = _start(pipe, source, None, t, steps)
    b_src = pipe.directions(xt=xt_src, t=t, k=max(k, direction), steps=steps)
    rows, kept, gains = [pipe.edit(v=b_src.v[direction - 1], strengths=strengths, t=t, steps=steps, xt=xt_src)], [], []
    for target in targets:
        _, xt = _start(pipe, target, None, t, steps)
        b = pipe.directions(xt=xt, t=t, k=k, steps=steps)
        moved = pipe.transport(b_src, direction - 1, [b], method=method, damp=damp)[0]
        kept.append(moved.kept)
        gains.append(moved.gain)
        rows.append(pipe.edit(v=moved.v, strengths=strengths, t=t, steps=steps, xt=xt))
    grid = np.stack(rows)
    labels = [f"{Path(source).name} (source)"] + [Path(tg).name for tg in targets]
    cols = [f"{s:+g}" for s in strengths]
    summary = {"source": source, "targets": list(targets), "direction": direction, "strengths": list(strengths),
               "t": t, "method": method, "damp": damp, "kept": kept, "gain": gains,
               "source_sigma": float(b_src.s[direction - 1]), "seconds": time.perf_counter() - start}
    with staged_output(out) as stage:
        save_figure(image_grid(grid, labels, cols, f"direction {direction} carried to other images"), stage / "transport.png")
        save_animation(grid_animation(grid, labels, cols), stage / "transport.gif", fps=3)
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary

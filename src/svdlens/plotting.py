"""Shared drawing conventions: colours with a fixed meaning, image panels, atomic saving."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["COLORS", "save_figure", "save_animation", "figure_image", "image_panel", "symmetric_panel"]

# One meaning per colour, in every figure: inputs, outputs, singular directions.
COLORS = {
    "input": "#1f77b4",  # blue
    "output": "#d62728",  # red
    "singular": "#2ca02c",  # green
    "other": "#7f7f7f",  # grey
    "faces": "#1f77b4",
    "nonfaces": "#ff7f0e",
}


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def save_figure(fig, path, dpi: int = 110) -> Path:
    """Save a figure (format from the suffix) atomically and close it."""
    try:
        return _atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix[1:]))
    finally:
        plt.close(fig)


def figure_image(fig, dpi: int = 100) -> np.ndarray:
    """Render a figure to an RGB array (h, w, 3) of uint8, and close it."""
    try:
        fig.set_dpi(dpi)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    finally:
        plt.close(fig)


def save_animation(anim, path, fps: int = 2) -> Path:
    """Save a matplotlib animation as GIF (Pillow) atomically."""
    from matplotlib.animation import PillowWriter

    try:
        return _atomic(path, lambda tmp: anim.save(tmp, writer=PillowWriter(fps=fps)))
    finally:
        plt.close(anim._fig)


def image_panel(ax, image, title=None, cmap="gray"):
    """A grayscale image with its own contrast range, no ticks."""
    ax.imshow(image, cmap=cmap, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def symmetric_panel(ax, image, title=None, cmap="RdBu_r"):
    """A signed image on a diverging map with a range symmetric about zero."""
    lim = float(np.abs(image).max()) or 1.0
    ax.imshow(image, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)

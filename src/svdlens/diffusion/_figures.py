"""Figures of edits: grids of images, rows for directions (or samples), columns for strengths."""

from __future__ import annotations

import numpy as np
from matplotlib.animation import FuncAnimation

from .._plotting import subplots

__all__ = ["image_grid", "grid_animation"]


def _show(ax, img):
    ax.imshow(img if img.ndim == 2 else np.moveaxis(img, 0, -1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def image_grid(grid: np.ndarray, row_labels, col_labels, title: str = ""):
    """``grid`` (rows, cols, h, w[, c]) as a table of images."""
    rows, cols = grid.shape[:2]
    fig, axes = subplots(rows, cols, figsize=(1.3 * cols + 0.8, 1.35 * rows + 0.5), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            _show(axes[r, c], grid[r, c])
            if r == 0:
                axes[r, c].set_title(col_labels[c], fontsize=8)
        axes[r, 0].set_ylabel(row_labels[r], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def grid_animation(grid: np.ndarray, row_labels, col_labels):
    """One frame per column (strength), all rows side by side."""
    rows, cols = grid.shape[:2]
    fig, axes = subplots(1, rows, figsize=(1.8 * rows, 2.1), squeeze=False)
    ims = []
    for r in range(rows):
        _show(axes[0, r], grid[r, 0])
        ims.append(axes[0, r].images[0])
        axes[0, r].set_xlabel(row_labels[r], fontsize=8)
    title = fig.suptitle("")

    def draw(c):
        for r in range(rows):
            img = grid[r, c]
            ims[r].set_data(img if img.ndim == 2 else np.moveaxis(img, 0, -1))
        title.set_text(f"strength {col_labels[c]}")
        return ims

    draw(0)
    return FuncAnimation(fig, draw, frames=cols)

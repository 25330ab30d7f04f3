"""Figures of edits: grids of images, rows for directions (or samples), columns for strengths."""

from __future__ import annotations

import numpy as np
from matplotlib.animation import FuncAnimation

from .._plotting import subplots

__all__ = ["image_grid", "grid_animation", "prompt_angles_figure"]


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


def prompt_angles_figure(comparison):
    """How far each prompt turns the local basis from the first prompt's: principal angles, v side and u side.

    ``comparison`` is a :class:`~svdlens.diffusion.PromptComparison`; one line per other prompt,
    the i-th principal angle (degrees) against i. Near 0°: that direction is shared.
    """
    fig, axes = subplots(1, 2, figsize=(9, 3.4), squeeze=False)
    first = comparison.prompts[0] or "(empty prompt)"
    for ax, angles, side in zip(
        axes[0], (comparison.angles_v, comparison.angles_u), ("v (directions in x_t)", "u (in h)")
    ):
        index = np.arange(1, angles.shape[2] + 1)
        for j, prompt in enumerate(comparison.prompts[1:], start=1):
            ax.plot(index, np.degrees(angles[0, j]), "o-", label=f"“{prompt[:40]}”")
        ax.set_ylim(0, 92)
        ax.set_xticks(index)
        ax.set_xlabel("principal angle i")
        ax.set_ylabel("degrees")
        ax.set_title(side, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 1].legend(fontsize=7, title=f"against “{first[:40]}”", title_fontsize=7)
    fig.suptitle("How the prompt turns the local basis (Park et al. 2023)", fontsize=10)
    fig.tight_layout()
    return fig

"""Figures of eigenfaces. Each function draws a result it is given; none computes one."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.animation import FuncAnimation

from .._plotting import COLORS, image_panel, new_figure, subplots, symmetric_panel
from ._estimator import Eigenfaces
from ._uses import CompressionCurve, Detection, Puzzle

__all__ = [
    "eigenface_gallery",
    "scree_plot",
    "reconstruction_strip",
    "reconstruction_animation",
    "puzzle_bars",
    "distance_histogram",
    "compression_plot",
    "image_row",
    "world_sweep_figure",
    "named_faces_figure",
]


def eigenface_gallery(ef: Eigenfaces, n: int = 15):
    """The mean face, then the first ``n`` eigenfaces on a diverging map, symmetric about 0."""
    n = min(n, ef.n_components_)
    cols = min(8, n + 1)
    rows = math.ceil((n + 1) / cols)
    fig, axes = subplots(rows, cols, figsize=(1.5 * cols, 1.95 * rows), squeeze=False)
    image_panel(axes.flat[0], ef.mean_face_, "mean face")
    for i in range(n):
        ratio = ef.explained_variance_ratio_[i]
        symmetric_panel(axes.flat[i + 1], ef.eigenfaces_[i], f"#{i + 1} ({ratio:.1%})")
    for ax in list(axes.flat)[n + 1 :]:
        ax.axis("off")
    fig.suptitle("The mean face and the eigenfaces (red +, blue −)", fontsize=11)
    fig.tight_layout()
    return fig


def scree_plot(ef: Eigenfaces):
    """Explained variance per eigenface (bars) and cumulative (line)."""
    k = np.arange(1, ef.n_components_ + 1)
    fig, ax = subplots(figsize=(6, 3.6))
    ax.bar(k, ef.explained_variance_ratio_, color=COLORS["singular"], label="each eigenface")
    ax2 = ax.twinx()
    ax2.plot(k, np.cumsum(ef.explained_variance_ratio_), color=COLORS["output"], marker="o", ms=3, label="cumulative")
    ax2.set_ylim(0, 1.02)
    ax.set_xlabel("eigenface")
    ax.set_ylabel("share of the variance")
    ax2.set_ylabel("cumulative share", color=COLORS["output"])
    ax.set_title("Scree plot")
    fig.tight_layout()
    return fig


def image_row(images, titles, suptitle=None):
    n = len(images)
    fig, axes = subplots(1, n, figsize=(1.6 * n, 2.0), squeeze=False)
    for ax, img, title in zip(axes[0], images, titles):
        image_panel(ax, img, title)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def reconstruction_strip(face, reconstructions: dict):
    """The face rebuilt from k eigenfaces, for each k, then the original."""
    titles = [f"k = {k}" for k in reconstructions] + ["original"]
    return image_row(list(reconstructions.values()) + [face], titles, "The puzzle: a face from k eigenfaces")


def reconstruction_animation(face, reconstructions: dict):
    """One frame per k, ending on the original."""
    frames = list(reconstructions.items()) + [("original", face)]
    fig, ax = subplots(figsize=(2.6, 2.9))
    lo = min(float(np.min(img)) for _, img in frames)
    hi = max(float(np.max(img)) for _, img in frames)
    im = ax.imshow(frames[0][1], cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    title = ax.set_title("")

    def draw(i):
        label, img = frames[i]
        im.set_data(img)
        title.set_text(f"k = {label}" if label != "original" else "original")
        return im, title

    draw(0)
    return FuncAnimation(fig, draw, frames=len(frames), blit=False)


def puzzle_bars(puzzle: Puzzle):
    """The puzzle's solution: each eigenface's coefficient, beside the face and its reconstruction."""
    fig = new_figure(figsize=(8, 2.8))
    grid = fig.add_gridspec(1, 4, width_ratios=[1, 1, 0.2, 4])
    image_panel(fig.add_subplot(grid[0]), puzzle.face, "face")
    image_panel(fig.add_subplot(grid[1]), puzzle.reconstruction, f"{len(puzzle.coefficients)} pieces")
    ax = fig.add_subplot(grid[3])
    k = np.arange(1, len(puzzle.coefficients) + 1)
    colors = [COLORS["output"] if c >= 0 else COLORS["input"] for c in puzzle.coefficients]
    ax.bar(k, puzzle.coefficients, color=colors)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("eigenface")
    ax.set_ylabel("coefficient cᵢ")
    ax.set_title("face = mean + Σ cᵢ · eigenfaceᵢ")
    fig.tight_layout()
    return fig


def distance_histogram(det: Detection):
    """Distance from face space for faces and non-faces, with the 95th-percentile threshold."""
    fig, ax = subplots(figsize=(6, 3.4))
    bins = np.histogram_bin_edges(np.concatenate([det.faces, det.nonfaces]), bins=25)
    ax.hist(det.faces, bins=bins, alpha=0.7, color=COLORS["faces"], label="faces")
    ax.hist(det.nonfaces, bins=bins, alpha=0.7, color=COLORS["nonfaces"], label="non-faces")
    ax.axvline(det.threshold, color="black", ls="--", lw=1, label="95% of faces inside")
    ax.set_xlabel("distance from face space")
    ax.set_ylabel("images")
    ax.set_title(f"Face or not? ROC AUC {det.auc:.3f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def compression_plot(curve: CompressionCurve):
    """Reconstruction error against compression ratio, one point per k."""
    fig, ax = subplots(figsize=(5.5, 3.4))
    ax.plot(curve.ratio, curve.error, marker="o", ms=3, color=COLORS["singular"])
    for k, r, e in zip(curve.ks, curve.ratio, curve.error):
        if k in (1, 2, 5, 10, 20, 50):
            ax.annotate(f"k={k}", (r, e), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("compression ratio (pixels stored / numbers stored)")
    ax.set_ylabel("relative reconstruction error")
    ax.set_title("Fewer pieces, more compression, more error")
    fig.tight_layout()
    return fig


def world_sweep_figure(images: np.ndarray, steps: int):
    """The face world, one row per factor swept alone from its low end to its high end.

    ``images`` is ``render(world.sweep(steps).reshape(-1, F))``: ``(F·steps, h, w)``.
    """
    from . import world

    n = len(world.FACTORS)
    grid = np.asarray(images).reshape(n, steps, *np.shape(images)[1:])
    fig, axes = subplots(n, steps, figsize=(0.95 * steps + 2.2, 0.98 * n + 0.6), squeeze=False)
    for r, factor in enumerate(world.FACTORS):
        for c in range(steps):
            axes[r, c].imshow(grid[r, c], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(
            f"{factor.name}\n{factor.low:g} … {factor.high:g}", fontsize=7, rotation=0, ha="right", va="center"
        )
        axes[r, -1].yaxis.set_label_position("right")
        axes[r, -1].set_ylabel(factor.meaning, fontsize=6, rotation=0, ha="left", va="center")
    fig.suptitle("The face world: each factor alone, from its low end to its high end", fontsize=10)
    fig.tight_layout()
    return fig


def named_faces_figure(images: np.ndarray, names: list[str]):
    """The world's named faces side by side (the seeds' scary face and friendly puppet)."""
    fig, axes = subplots(1, len(names), figsize=(2.2 * len(names), 2.5), squeeze=False)
    for ax, img, name in zip(axes[0], images, names):
        image_panel(ax, img, name)
        ax.images[0].set_clim(0, 1)
    fig.tight_layout()
    return fig

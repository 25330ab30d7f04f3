"""Figures of edits: grids of images, rows for directions (or samples), columns for strengths."""

from __future__ import annotations

import numpy as np
from matplotlib.animation import FuncAnimation

from .._plotting import subplots

__all__ = [
    "image_grid",
    "grid_animation",
    "prompt_angles_figure",
    "prompt_distance_figure",
    "model_comparison_figure",
    "evolution_figure",
    "spectra_figure",
    "rank_profile_figure",
    "linearity_figure",
]


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


def _distance_heatmap(ax, fig, dist: np.ndarray, labels) -> None:
    """A symmetric distance matrix as a heatmap, each cell written in when there are 12 rows or fewer."""
    im = ax.imshow(dist, cmap="magma", vmin=0, interpolation="nearest")
    ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=30 if max(map(len, labels)) > 4 else 0)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    if len(labels) <= 12:
        top = np.nanmax(dist) if dist.size else 0.0
        for i in range(len(labels)):
            for j in range(len(labels)):
                colour = "black" if dist[i, j] > 0.6 * top else "white"
                ax.text(j, i, f"{dist[i, j]:.2f}", ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(im, ax=ax, shrink=0.8)


def prompt_distance_figure(comparison):
    """The prompts' distance matrix (Park et al. 2023): Grassmann distances between their local bases, v and u.

    ``comparison`` is a :class:`~svdlens.diffusion.PromptComparison`. Left: in x_t (the bases'
    v); right: in h (their u). 0: the same subspace; at most √k·π/2.
    """
    labels = [f"“{p[:18]}”" if p else "(empty)" for p in comparison.prompts]
    fig, axes = subplots(1, 2, figsize=(4.2 + 0.9 * len(labels), 2.2 + 0.45 * len(labels)), squeeze=False)
    for ax, dist, side in zip(axes[0], (comparison.distances, comparison.distances_u), ("v (in x_t)", "u (in h)")):
        _distance_heatmap(ax, fig, np.asarray(dist), labels)
        ax.set_title(f"Grassmann distance, {side}", fontsize=9)
    fig.suptitle(f"How far apart the prompts' local bases are (k = {comparison.angles_v.shape[2]})", fontsize=10)
    fig.tight_layout()
    return fig


def model_comparison_figure(comparison):
    """Models trained on different data, side by side over t (Park et al. 2023, §5).

    ``comparison`` is a :class:`~svdlens.diffusion.ModelComparison`. Left: each model's
    homogeneity (how alike its own images' bases are). Middle: the mean radial frequency of its
    directions. Right: mean Grassmann distances between bases, within each model (solid) and
    across two models (dashed), after resampling to one image size.
    """
    ts = np.asarray(comparison.ts, float)
    fig, axes = subplots(1, 3, figsize=(13, 3.8), squeeze=False)
    left, middle, right = axes[0]
    for m, name in enumerate(comparison.models):
        left.plot(ts, comparison.homogeneity[m], "o-", label=name)
        middle.plot(ts, comparison.mean_frequency[m], "o-", label=name)
    M = len(comparison.models)
    for a in range(M):
        for b in range(a, M):
            pair = comparison.models[a] if a == b else f"{comparison.models[a]} ↔ {comparison.models[b]}"
            right.plot(ts, comparison.distances[:, a, b], "o-" if a == b else "s--", label=pair)
    for ax, label, title in (
        (left, "homogeneity", "How alike one model's images' bases are"),
        (middle, "cycles per pixel", "Mean frequency of the directions"),
        (right, "Grassmann distance", f"Distance between bases ({comparison.size[0]}×{comparison.size[1]})"),
    ):
        ax.set_xlim(max(1.0, ts.max()) + 0.02, 0)  # from noise to the image, as sampling runs
        ax.set_xlabel("t")
        ax.set_ylabel(label)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    left.set_ylim(0, 1.02)
    right.set_ylim(0, None)
    fig.suptitle("Models trained on different data: their local bases over t", fontsize=10)
    fig.tight_layout()
    return fig


def evolution_figure(evolution, names=None):
    """How the local basis moves over t: Grassmann distances across t (first image), and homogeneity against t.

    ``evolution`` is a :class:`~svdlens.diffusion.BasisEvolution`. Left: the first image's
    ``across_t`` as a heatmap (0: the same subspace at both t's; at most √k·π/2). Right, with
    two images or more: the homogeneity of the images' bases at each t (1: every image has the
    same directions).
    """
    ts = np.asarray(evolution.ts, float)
    several = len(evolution.bases) >= 2
    fig, axes = subplots(1, 2 if several else 1, figsize=(9.5 if several else 5, 4), squeeze=False)
    ax = axes[0, 0]
    _distance_heatmap(ax, fig, np.asarray(evolution.across_t[0]), [f"{t:g}" for t in ts])
    ax.set_xlabel("t")
    ax.set_ylabel("t")
    first = names[0] if names else "image 1"
    ax.set_title(f"Grassmann distance across t ({first})", fontsize=9)
    if several:
        ax = axes[0, 1]
        ax.plot(ts, evolution.homogeneity, "o-", color="#2ca02c")
        ax.set_xlim(max(1.0, ts.max()) + 0.02, 0)  # from noise (t = 1) to the image (t = 0), as sampling runs
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("t")
        ax.set_ylabel("homogeneity")
        ax.set_title(f"How alike {len(evolution.bases)} images' bases are", fontsize=9)
        ax.grid(alpha=0.3)
    kind = "warm starts" if evolution.warm else "cold starts"
    fig.suptitle(
        f"How the local basis evolves over t (k = {len(evolution.bases[0][0].s)}; {kind}, "
        f"{int(np.sum(evolution.products))} Jacobian products)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def spectra_figure(evolution):
    """The frequency content of the directions at each t: radial power spectra coloured by t, and their mean frequency.

    ``evolution`` is a :class:`~svdlens.diffusion.BasisEvolution`. Left: the mean radially
    averaged power spectrum of the directions at each t (all images). Right: the power-weighted
    mean radial frequency against t (Park et al. 2023: coarse at large t, fine near t = 0).
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    ts = np.asarray(evolution.ts, float)
    fig, axes = subplots(1, 2, figsize=(10, 3.8), squeeze=False)
    ax = axes[0, 0]
    norm = Normalize(vmin=0, vmax=1)
    cmap = colormaps["viridis"]
    for t, power in zip(ts, evolution.frequency):
        ax.plot(evolution.frequencies, power, "-", color=cmap(norm(t)), lw=1.3)
    ax.set_xlabel("radial frequency (cycles per pixel)")
    ax.set_ylabel("share of power")
    ax.set_title("radial power spectrum of the directions", fontsize=9)
    ax.grid(alpha=0.3)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="t", shrink=0.85)
    ax = axes[0, 1]
    ax.plot(ts, evolution.mean_frequency, "o-", color="#1f77b4")
    ax.set_xlim(max(1.0, ts.max()) + 0.02, 0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("t")
    ax.set_ylabel("cycles per pixel")
    ax.set_title("mean radial frequency of the directions", fontsize=9)
    ax.grid(alpha=0.3)
    fig.suptitle("Frequency content of the local basis over t", fontsize=10)
    fig.tight_layout()
    return fig


def rank_profile_figure(profile):
    """σᵢ/σ₁ of the x̂0 Jacobian at each t (log scale, with the threshold τ), and the rank it gives against t."""
    fig, (left, right) = subplots(1, 2, figsize=(9, 3.4))
    for t, s in zip(profile.ts, profile.s):
        left.semilogy(np.arange(1, len(s) + 1), s / s[0], marker="o", ms=3, label=f"t = {t:g}")
    left.axhline(profile.tau, color="grey", ls="--", lw=0.8)
    left.set_xlabel("i")
    left.set_ylabel("σᵢ / σ₁")
    left.legend(fontsize=7)
    left.set_title(f"Singular values, τ = {profile.tau:g} dashed", fontsize=10)
    right.plot(profile.ts, profile.rank, marker="o")
    for t, r, more in zip(profile.ts, profile.rank, profile.at_least):
        if more:
            right.annotate("or more", (t, r), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    right.set_xlabel("t")
    right.set_ylabel(f"rank (σᵢ ≥ {profile.tau:g}·σ₁)")
    right.set_title("Numerical rank against t", fontsize=10)
    fig.tight_layout()
    return fig


def linearity_figure(lin):
    """The norm ratio ‖Δ‖/‖λJv‖ and the cosine of Δ with λJv against the step λ (1 for a linear map)."""
    fig, ax = subplots(figsize=(6, 3.4))
    ax.semilogx(lin.lambdas, lin.ratio, marker="o", label="‖f(x+λv) − f(x)‖ / ‖λ J v‖")
    ax.semilogx(lin.lambdas, lin.cosine, marker="s", label="cosine with λ J v")
    ax.axhline(1.0, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("λ")
    ax.legend(fontsize=8)
    ax.set_title(f"Linearity of x̂0 along v (‖J v‖ = {lin.jv_norm:.3g})", fontsize=10)
    fig.tight_layout()
    return fig

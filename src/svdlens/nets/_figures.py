"""Figures of a local basis. They draw what they are given."""

from __future__ import annotations

import numpy as np

from .._plotting import COLORS, subplots, symmetric_panel
from ._basis import LocalBasis

__all__ = ["spectrum_plot", "direction_images", "as_image", "weight_direction_images"]


def spectrum_plot(basis: LocalBasis):
    """Singular values of the Jacobian, with each triplet's certified residual."""
    s = basis.s.detach().cpu().numpy()
    r = basis.residuals.detach().cpu().numpy()
    k = np.arange(1, len(s) + 1)
    fig, ax = subplots(figsize=(6, 3.4))
    ax.bar(k, s, color=COLORS["singular"])
    for i, (si, ri) in enumerate(zip(s, r)):
        ax.annotate(f"{ri:.0e}", (k[i], si), textcoords="offset points", xytext=(0, 2), ha="center", fontsize=7)
    ax.set_xlabel("singular direction i")
    ax.set_ylabel("σᵢ: how far h moves per unit step")
    ax.set_title(f"Jacobian spectrum (residual above each bar; converged: {basis.converged})")
    fig.tight_layout()
    return fig


def transport_plot(carried):
    """|cᵢ|, the share of u on each of the target's left singular vectors, titled with kept and gain."""
    c = np.abs(carried.coefficients.detach().cpu().numpy().astype(float).ravel())
    fig, ax = subplots(figsize=(6, 3.2))
    ax.bar(np.arange(1, len(c) + 1), c, color=COLORS["singular"])
    ax.set_xlabel("i (the target's left singular vector u'ᵢ)")
    ax.set_ylabel("|⟨u'ᵢ, u⟩|")
    ax.set_title(f"u carried to the target: kept = {carried.kept:.3f}, gain ‖J'v‖ = {carried.gain:.3g}", fontsize=10)
    fig.tight_layout()
    return fig


def as_image(t) -> np.ndarray | None:
    """A tensor shaped like an image, (H, W), (C, H, W) or (1, C, H, W), as one 2-D array; else None."""
    a = t.detach().cpu().numpy()
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[0] in (1, 3, 4):
        a = a.mean(axis=0) if a.shape[0] > 1 else a[0]
    return a if a.ndim == 2 else None


def direction_images(basis: LocalBasis, n: int = 8):
    """The top right singular vectors v (directions in input space) as images, red +, blue −."""
    n = min(n, basis.k)
    fig, axes = subplots(1, n, figsize=(1.7 * n, 2.1), squeeze=False)
    for i in range(n):
        img = as_image(basis.v[i])
        symmetric_panel(axes[0, i], img, f"v{i + 1}  σ={float(basis.s[i]):.3g}")
    fig.suptitle("Directions to move in (right singular vectors)", fontsize=10)
    fig.tight_layout()
    return fig


def weight_direction_images(directions, values, title: str):
    """Eigenvectors of WᵀW shaped like the layer's input (e.g. (k, 1, 3, 3) patches), each with its λ."""
    V = directions.detach().cpu().numpy()
    lam = values.detach().cpu().numpy()
    n = len(V)
    fig, axes = subplots(1, n, figsize=(1.25 * n, 1.7), squeeze=False)
    for i in range(n):
        img = V[i].reshape(-1, *V[i].shape[-2:]).mean(0) if V[i].ndim >= 2 else V[i][None]
        symmetric_panel(axes[0, i], img, f"λ{i + 1}={lam[i]:.2g}")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

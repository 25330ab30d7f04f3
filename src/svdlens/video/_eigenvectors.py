"""Scene 3, eigenvectors: AᵀA turns most vectors of a ring; its eigenvectors only stretch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from manim import DashedLine, FadeIn, Scene, ValueTracker, VGroup, Write, always_redraw, linear

from ._check import check_count, check_matrix, matrix_svd
from ._draw import (
    DOWN,
    GREY,
    HIGHLIGHT,
    LEFT,
    PAIR_COLORS,
    MatrixMob,
    arrow,
    caption,
    fmt,
    plane,
    text,
    title,
    to_scene,
    vec,
)

MAX_RING = 64
"""The most vectors in the ring (before the eigenvectors are added)."""


@dataclass(frozen=True)
class EigenvectorNumbers:
    """The numbers of the eigenvector scene.

    Attributes
    ----------
    A : (2, 2) the matrix.
    gram : (2, 2) ``AᵀA``, the matrix that acts on the ring.
    eigenvalues : (2,) of AᵀA, descending: σᵢ² from :func:`svdlens.svd` of A (0 for a σᵢ at
        rounding-noise level, as in every matrix scene).
    eigenvectors : (2, 2) row i is the unit eigenvector of ``eigenvalues[i]`` (row i of Vᵀ).
    ring : (n, 2) unit vectors: evenly spaced angles plus ± each eigenvector, sorted by angle.
    images : (n, 2) ``AᵀA @ ring[k]`` for each k.
    is_eigen : (n,) which ring vectors are ± an eigenvector.
    turn_degrees : (n,) signed angle from ``ring[k]`` to ``images[k]`` (0 where the image is 0,
        to rounding, next to the largest eigenvalue).
    stretch : (n,) ``‖images[k]‖``.
    """

    A: np.ndarray
    gram: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    ring: np.ndarray
    images: np.ndarray
    is_eigen: np.ndarray
    turn_degrees: np.ndarray
    stretch: np.ndarray


def eigenvector_numbers(matrix=None, n_ring: int = 16) -> EigenvectorNumbers:
    """The eigenvector scene's numbers: AᵀA applied to a ring of unit vectors.

    The eigenvectors of AᵀA are the right singular vectors of A and its eigenvalues the squared
    singular values (both from :func:`svdlens.svd`); AᵀA is symmetric, so they are orthogonal.

    Parameters
    ----------
    matrix : array-like (2, 2), optional
        Default the script's ``[[0.4, 0.2], [1, 3]]``.
    n_ring : int
        Evenly spaced vectors in the ring, 4 to :data:`MAX_RING`; the 4 eigenvectors (±) are added.

    Examples
    --------
    >>> from svdlens.video import eigenvector_numbers
    >>> n = eigenvector_numbers()
    >>> n.eigenvalues.round(3).tolist()
    [10.101, 0.099]
    >>> bool(abs(n.turn_degrees[n.is_eigen]).max() < 1e-9), bool(abs(n.turn_degrees[~n.is_eigen]).min() > 1)
    (True, True)
    """
    A = check_matrix(matrix)
    n_ring = check_count("n_ring", n_ring, 4, MAX_RING)
    _, S, Vt = matrix_svd(A)
    gram = A.T @ A
    eigenvalues = np.asarray(S, dtype=float) ** 2
    eigenvectors = np.asarray(Vt, dtype=float)
    angles = 2 * np.pi * np.arange(n_ring) / n_ring
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    eig = np.vstack([eigenvectors, -eigenvectors])
    # an evenly spaced vector that is already an eigenvector is dropped, so none appears twice
    keep = np.array([np.abs(np.abs(eig @ r) - 1).min() > 1e-9 for r in ring])
    ring = np.vstack([ring[keep], eig])
    is_eigen = np.r_[np.zeros(int(keep.sum()), bool), np.ones(4, bool)]
    order = np.argsort(np.arctan2(ring[:, 1], ring[:, 0]), kind="stable")
    ring, is_eigen = ring[order], is_eigen[order]
    images = ring @ gram.T
    stretch = np.linalg.norm(images, axis=1)
    cross = ring[:, 0] * images[:, 1] - ring[:, 1] * images[:, 0]
    dot = np.einsum("ij,ij->i", ring, images)
    turn = np.where(stretch > 1e-12 * float(eigenvalues[0]), np.degrees(np.arctan2(cross, dot)), 0.0)
    turn[is_eigen] = 0.0  # exactly on their line: AᵀA v = λ v (to rounding)
    return EigenvectorNumbers(A, gram, eigenvalues, eigenvectors, ring, images, is_eigen, turn, stretch)


class EigenvectorsScene(Scene):
    """Eigenvectors: AᵀA acting on a ring of vectors; most turn, the eigenvectors only stretch.

    The script (2a): "Preserve? You mean… is as similar as possible? Well, the most similar
    vectors point in the same direction… so would these vectors project onto themselves? —
    Yes. These vectors are called Eigenvectors." A ring of unit vectors is hit by AᵀA: first
    each turns to its image's direction (the eigenvectors, highlighted, do not move), then each
    takes its image's length (the eigenvectors stretch along their dashed lines by λ).

    Parameters
    ----------
    matrix : array-like (2, 2), optional
        Default the script's ``[[0.4, 0.2], [1, 3]]``.
    n_ring : int
        Evenly spaced vectors in the ring (the eigenvectors are added).
    """

    def __init__(self, matrix=None, n_ring: int = 16, **kwargs):
        self.numbers = eigenvector_numbers(matrix, n_ring)
        super().__init__(**kwargs)

    def construct(self):
        n = self.numbers
        origin = np.array([-2.6, -0.35, 0.0])
        radius = 1.45  # the ring's radius in scene units
        longest = 2.1 * radius  # the longest image is drawn this long: every length is scaled alike
        scale = longest / max(float(n.stretch.max()), 1e-12)
        self.add(plane(radius, 2.2, origin, opacity=0.2))
        self.play(Write(title("Eigenvectors: AᵀA turns most vectors, stretches its eigenvectors")), run_time=0.6)

        colors = []
        for r, e in zip(n.ring, n.is_eigen):
            if e:
                colors.append(PAIR_COLORS[int(np.argmax(np.abs(n.eigenvectors @ r)))])
            else:
                colors.append(GREY)
        for i in range(2):
            d = n.eigenvectors[i]
            self.add(
                DashedLine(
                    to_scene(-3.3 * d, 1.0, origin),
                    to_scene(3.3 * d, 1.0, origin),
                    color=PAIR_COLORS[i],
                    stroke_width=1.5,
                    dash_length=0.08,
                )
            )

        turn = ValueTracker(0.0)
        grow = ValueTracker(0.0)
        start_angles = np.arctan2(n.ring[:, 1], n.ring[:, 0])
        turns = np.radians(n.turn_degrees)

        drawing_order = np.argsort(n.is_eigen, kind="stable")  # the eigenvectors last, on top

        def ring_arrows():
            arrows = VGroup()
            for k in drawing_order:
                a = start_angles[k] + turn.get_value() * turns[k]
                length = radius + grow.get_value() * (scale * n.stretch[k] - radius)
                end = length * np.array([np.cos(a), np.sin(a)])
                arrows.add(arrow(origin, to_scene(end, 1.0, origin), colors[k], width=4 if n.is_eigen[k] else 3))
            return arrows

        arrows = always_redraw(ring_arrows)
        self.play(FadeIn(arrows), run_time=0.4)

        panel_x = 3.9
        M = MatrixMob(n.gram, size=26, col_width=1.2, row_height=0.55).move_to(np.array([panel_x + 0.6, 2.2, 0.0]))
        M_label = text("AᵀA =", 26).next_to(M, LEFT, buff=0.2)
        self.play(FadeIn(M_label), FadeIn(M), run_time=0.4)

        step1 = text("1. each vector turns toward its image", 22, max_width=5.8).move_to(np.array([panel_x, 1.0, 0.0]))
        self.play(FadeIn(step1), run_time=0.3)
        self.play(turn.animate.set_value(1.0), run_time=1.6, rate_func=linear)
        moved = int((np.abs(n.turn_degrees) > 0.5).sum())
        still = text(
            f"{moved} of {len(n.ring)} turned; the eigenvectors stayed on their lines", 18, GREY, max_width=5.8
        )
        self.play(FadeIn(still.next_to(step1, DOWN, buff=0.15)), run_time=0.3)

        step2 = text("2. then takes its image's length", 22, max_width=5.8).move_to(np.array([panel_x, -0.2, 0.0]))
        self.play(FadeIn(step2), run_time=0.3)
        self.play(grow.animate.set_value(1.0), run_time=1.4, rate_func=linear)
        lines = (
            VGroup(
                *[
                    text(
                        f"AᵀA v{'₁₂'[i]} = {fmt(n.eigenvalues[i])} v{'₁₂'[i]},   v{'₁₂'[i]} = {vec(n.eigenvectors[i])}",
                        20,
                        PAIR_COLORS[i],
                        max_width=5.8,
                    )
                    for i in range(2)
                ]
            )
            .arrange(DOWN, buff=0.15, aligned_edge=LEFT)
            .move_to(np.array([panel_x, -1.45, 0.0]))
        )
        self.play(FadeIn(lines), run_time=0.4)
        note = text(
            f"images drawn at {fmt(scale / radius)}× their length (the ring's vectors have length 1)",
            16,
            GREY,
            max_width=5.8,
        )
        self.add(note.move_to(np.array([panel_x, -2.35, 0.0])))
        self.play(FadeIn(caption("An eigenvector only stretches: AᵀA v = λ v", 24, HIGHLIGHT)), run_time=0.4)
        self.wait(0.5)


__all__ = ["EigenvectorNumbers", "eigenvector_numbers", "EigenvectorsScene", "MAX_RING"]

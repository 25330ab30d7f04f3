"""Scene 1, projection and the dot product: each output of A·x is a row of A dotted with x."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from manim import Create, DashedLine, FadeIn, GrowArrow, Line, Scene, Write

from ._check import check_matrix, check_vector
from ._draw import INPUT, LEFT, PAIR_COLORS, RIGHT, UP, arrow, caption, fmt, plane, text, title, to_scene, vec


@dataclass(frozen=True)
class ProjectionNumbers:
    """The numbers of the projection scene.

    Attributes
    ----------
    A : (2, 2) the matrix; its rows are the directions x is projected onto.
    x : (2,) the input.
    terms : (2, 2) ``A[i, j] * x[j]``, the products the narration adds (``0.4 · 2`` and ``0.2 · 1``).
    outputs : (2,) ``A @ x``: row i's dot product with x, the sum of row i of ``terms``.
    row_lengths : (2,) ``‖row i‖``.
    shadows : (2,) the signed length of x's projection onto row i's line, ``outputs / row_lengths``.
    feet : (2, 2) the foot of that projection, ``(outputs[i] / ‖row i‖²) · row i``.
    """

    A: np.ndarray
    x: np.ndarray
    terms: np.ndarray
    outputs: np.ndarray
    row_lengths: np.ndarray
    shadows: np.ndarray
    feet: np.ndarray


def projection_numbers(matrix=None, vector=None) -> ProjectionNumbers:
    """The projection scene's numbers for a 2×2 matrix and an input vector.

    Parameters
    ----------
    matrix : array-like (2, 2), optional
        Default the script's ``[[0.4, 0.2], [1, 3]]``.
    vector : array-like (2,), optional
        Default the script's ``[2, 1]``, so that row 1 gives ``0.4 · 2 + 0.2 · 1 = 1``.

    Examples
    --------
    >>> from svdlens.video import projection_numbers
    >>> n = projection_numbers()
    >>> n.terms[0].tolist(), float(n.outputs[0])
    ([0.8, 0.2], 1.0)
    """
    A = check_matrix(matrix)
    x = check_vector(vector)
    terms = A * x[None, :]
    outputs = A @ x
    row_lengths = np.linalg.norm(A, axis=1)
    safe = np.where(row_lengths > 0, row_lengths, 1.0)
    shadows = np.where(row_lengths > 0, outputs / safe, 0.0)
    feet = (np.where(row_lengths > 0, outputs / safe**2, 0.0))[:, None] * A
    return ProjectionNumbers(A, x, terms, outputs, row_lengths, shadows, feet)


class ProjectionScene(Scene):
    """Projection and the dot product: the input x projected onto each row of A.

    The script (1a): "I recall that matrix multiplication projects the input basis vectors onto
    the output basis vectors … 0.4 * 2 + 0.2 * 1 = 1 … show cats projecting from orange onto red,
    then image of orange on red dot product." The orange input x drops its shadow onto the red
    first row and the blue second row; each output of A·x is that row's dot product with x,
    written out term by term.

    Parameters
    ----------
    matrix : array-like (2, 2), optional
        Default the script's ``[[0.4, 0.2], [1, 3]]``.
    vector : array-like (2,), optional
        The input; default ``[2, 1]``.
    """

    def __init__(self, matrix=None, vector=None, **kwargs):
        self.numbers = projection_numbers(matrix, vector)
        super().__init__(**kwargs)

    def construct(self):
        n = self.numbers
        points = np.vstack([n.x, n.A, n.feet])
        extent = 1.15 * float(np.abs(points).max())
        unit = 2.9 / extent
        origin = np.array([-3.6, -0.35, 0.0])
        self.add(plane(unit, extent, origin, opacity=0.25))
        self.play(Write(title("Each output is a dot product: a row of A with the input")), run_time=0.6)

        x_arrow = arrow(origin, to_scene(n.x, unit, origin), INPUT)
        x_label = text(f"x = {vec(n.x)}", 24, INPUT).next_to(x_arrow.get_end(), RIGHT, buff=0.1)
        self.play(GrowArrow(x_arrow), FadeIn(x_label), run_time=0.5)

        row_arrows = []
        for i in range(2):
            row = n.A[i]
            color = PAIR_COLORS[i]
            r_arrow = arrow(origin, to_scene(row, unit, origin), color)
            row_arrows.append(r_arrow)
            r_label = text(f"row {i + 1} = {vec(row)}", 22, color).next_to(r_arrow.get_end(), UP + LEFT, buff=0.05)
            length = n.row_lengths[i]
            if length > 0:
                d = row / length
                line = DashedLine(
                    to_scene(-extent * d, unit, origin),
                    to_scene(extent * d, unit, origin),
                    color=color,
                    stroke_width=1.5,
                    dash_length=0.08,
                )
                self.play(Create(line), GrowArrow(r_arrow), FadeIn(r_label), run_time=0.4)
            else:
                self.play(FadeIn(r_arrow), FadeIn(r_label), run_time=0.3)
            drop = DashedLine(
                to_scene(n.x, unit, origin),
                to_scene(n.feet[i], unit, origin),
                color=INPUT,
                stroke_width=2,
                dash_length=0.06,
            )
            shadow = Line(origin, to_scene(n.feet[i], unit, origin), color=color, stroke_width=12, stroke_opacity=0.45)
            a, b = n.A[i]
            eq = text(
                f"row {i + 1} · x = {fmt(a)} · {fmt(n.x[0])} + {fmt(b)} · {fmt(n.x[1])} = {fmt(n.outputs[i])}",
                26,
                color,
            ).move_to(np.array([3.3, 1.6 - 1.25 * i, 0.0]))
            why = text(f"= ‖row {i + 1}‖ × shadow of x = {fmt(length)} × {fmt(n.shadows[i])}", 20, color).next_to(
                eq, np.array([0.0, -1.0, 0.0]), buff=0.12
            )
            self.play(Create(drop), Create(shadow), run_time=0.5)
            self.bring_to_front(x_arrow, *row_arrows)  # the shadows lie under the vectors; rows over x
            self.play(Write(eq), run_time=0.6)
            self.play(FadeIn(why), run_time=0.3)

        result = text(f"A x = {vec(n.outputs)}", 32).move_to(np.array([3.3, -1.4, 0.0]))
        self.play(Write(result), run_time=0.5)
        self.play(
            FadeIn(caption("Parallel vectors give the largest dot product; perpendicular ones give 0", 22)),
            run_time=0.4,
        )
        self.wait(0.5)


__all__ = ["ProjectionNumbers", "projection_numbers", "ProjectionScene"]

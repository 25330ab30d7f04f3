"""Scene 2, inputs with inputs: every entry of WᵀW is the dot product of two columns of W."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from manim import Create, FadeIn, FadeOut, GrowArrow, Indicate, Scene, SurroundingRectangle, VGroup, Write

from ._check import check_matrix
from ._draw import (
    COL1,
    COL2,
    DOWN,
    HIGHLIGHT,
    LEFT,
    RIGHT,
    UP,
    WHITE,
    MatrixMob,
    arrow,
    caption,
    fmt,
    plane,
    text,
    title,
    to_scene,
)


@dataclass(frozen=True)
class InputsWithInputsNumbers:
    """The numbers of the WᵀW scene.

    Attributes
    ----------
    W : (2, 2) the matrix; its columns are where the input basis vectors go.
    columns : (2, 2) ``columns[j]`` is column j of W.
    gram : (2, 2) ``WᵀW``; entry (i, j) is ``columns[i] · columns[j]``.
    entry : (int, int) the off-diagonal entry the scene lights up, (0, 1).
    products : (2,) the terms of that dot product, ``columns[i] * columns[j]`` entrywise.
    """

    W: np.ndarray
    columns: np.ndarray
    gram: np.ndarray
    entry: tuple[int, int]
    products: np.ndarray


def inputs_with_inputs_numbers(matrix=None) -> InputsWithInputsNumbers:
    """The WᵀW scene's numbers for a 2×2 matrix W (default the script's ``[[0.4, 0.2], [1, 3]]``).

    Examples
    --------
    >>> from svdlens.video import inputs_with_inputs_numbers
    >>> n = inputs_with_inputs_numbers()
    >>> round(float(n.gram[0, 1]), 2), n.products.round(2).tolist()
    (3.08, [0.08, 3.0])
    """
    W = check_matrix(matrix)
    columns = W.T.copy()
    gram = W.T @ W
    i, j = 0, 1
    return InputsWithInputsNumbers(W, columns, gram, (i, j), columns[i] * columns[j])


class InputsWithInputsScene(Scene):
    """WᵀW, inputs with inputs: an off-diagonal entry lights up as the dot product of two columns.

    The script (1b): "W^T W maps input basis vectors to input basis vectors … Inputs with inputs
    … highlight an non-diag element, showing it IS a dot product … show dot product visual."
    W's columns (orange, purple) are where the input basis vectors land; WᵀW is written next to
    it, its entry (1, 2) lights up, and the two columns are drawn as arrows and multiplied out.

    Parameters
    ----------
    matrix : array-like (2, 2), optional
        W; default the script's ``[[0.4, 0.2], [1, 3]]``.
    """

    def __init__(self, matrix=None, **kwargs):
        self.numbers = inputs_with_inputs_numbers(matrix)
        super().__init__(**kwargs)

    def construct(self):
        n = self.numbers
        i, j = n.entry
        self.play(Write(title("WᵀW: inputs with inputs")), run_time=0.5)
        colors = [[COL1, COL2], [COL1, COL2]]
        W = MatrixMob(n.W, colors=colors, size=30).move_to(np.array([-4.3, 1.6, 0.0]))
        W_label = text("W =", 30).next_to(W, LEFT, buff=0.2)
        WtW = MatrixMob(n.gram, size=30, col_width=1.35).move_to(np.array([0.6, 1.6, 0.0]))
        WtW_label = text("WᵀW =", 30).next_to(WtW, LEFT, buff=0.2)
        note = text("W's columns: where the input basis vectors go", 20, max_width=6.0).next_to(W, DOWN, buff=0.35)
        self.play(FadeIn(W_label), FadeIn(W), FadeIn(note), run_time=0.5)
        self.play(FadeIn(WtW_label), FadeIn(WtW), run_time=0.5)

        box = SurroundingRectangle(WtW.entries[i][j], color=HIGHLIGHT, buff=0.12)
        self.play(Create(box), Indicate(WtW.entries[i][j], color=HIGHLIGHT), run_time=0.6)
        col_boxes = VGroup(
            SurroundingRectangle(W.column(i), color=COL1, buff=0.1),
            SurroundingRectangle(W.column(j), color=COL2, buff=0.1),
        )
        self.play(Create(col_boxes), run_time=0.4)

        extent = 1.1 * float(np.abs(n.columns).max())
        unit = 2.0 / float(np.ceil(extent))
        origin = np.array([4.7, -0.7, 0.0])
        grid = plane(unit, extent, origin, opacity=0.2)
        a = arrow(origin, to_scene(n.columns[i], unit, origin), COL1)
        b = arrow(origin, to_scene(n.columns[j], unit, origin), COL2)
        a_label = text(f"column {i + 1}", 20, COL1).next_to(a.get_end(), RIGHT, buff=0.08)
        b_label = text(f"column {j + 1}", 20, COL2).next_to(b.get_end(), UP, buff=0.08)
        self.play(FadeIn(grid), GrowArrow(a), GrowArrow(b), FadeIn(a_label), FadeIn(b_label), run_time=0.6)

        ci, cj = n.columns[i], n.columns[j]
        eq = text(
            f"column {i + 1} · column {j + 1} = {fmt(ci[0])} · {fmt(cj[0])} + {fmt(ci[1])} · {fmt(cj[1])}"
            f" = {fmt(n.products[0])} + {fmt(n.products[1])} = {fmt(n.gram[i, j])}",
            24,
            HIGHLIGHT,
            max_width=8.6,
        ).move_to(np.array([-2.4, -0.8, 0.0]))
        self.play(Write(eq), run_time=0.8)
        meaning = text(
            f"entry ({i + 1}, {j + 1}) of WᵀW: how input {j + 1} varies with input {i + 1}", 22, WHITE, max_width=8.6
        ).next_to(eq, DOWN, buff=0.3)
        self.play(FadeIn(meaning), run_time=0.4)
        self.play(FadeOut(col_boxes), run_time=0.2)
        self.play(FadeIn(caption("Every entry of WᵀW is a dot product of two columns of W", 24)), run_time=0.4)
        self.wait(0.5)


__all__ = ["InputsWithInputsNumbers", "inputs_with_inputs_numbers", "InputsWithInputsScene"]

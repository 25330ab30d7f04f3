"""Scene 5, u = Av/σ: each right singular vector, sent through A and divided by σ, is a left one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from manim import Circle, CurvedArrow, FadeIn, GrowArrow, Scene, Transform, Write

from ._check import check_matrix, matrix_svd
from ._draw import DOWN, GREY, HIGHLIGHT, PAIR_COLORS, UP, WHITE, arrow, caption, fmt, plane, text, title, vec

RANK_TOL = 1e-12
"""σᵢ ≤ RANK_TOL·σ₁ is too small to divide by: A vᵢ then holds rounding errors of about ε·σ₁, and
A vᵢ / σᵢ would show them magnified (by up to 2·10⁻⁴ here, under the 3 digits shown). Such a
σᵢ is either 0 (at most :data:`~svdlens.video._check.NOISE`·σ₁, shown as 0) or merely tiny, and
the scene says which."""


@dataclass(frozen=True)
class UFromVNumbers:
    """The numbers of the u = Av/σ scene.

    Attributes
    ----------
    A : (2, 2) the matrix.
    S : (2,) its singular values, descending (from :func:`svdlens.svd`; rounding noise is 0).
    V : (2, 2) row i is the right singular vector vᵢ (row i of Vᵀ).
    U : (2, 2) row i is the left singular vector uᵢ (column i of U).
    Av : (2, 2) row i is ``A @ vᵢ``.
    u_from_v : (2, 2) row i is ``A @ vᵢ / σᵢ``; NaN where σᵢ ≤ :data:`RANK_TOL`·σ₁ (for
        σᵢ = 0, uᵢ is any unit vector orthogonal to the others, and the library picks one).
        The scene never shows the NaN: it says why there is no division instead.
    """

    A: np.ndarray
    S: np.ndarray
    V: np.ndarray
    U: np.ndarray
    Av: np.ndarray
    u_from_v: np.ndarray


def u_from_v_numbers(matrix=None) -> UFromVNumbers:
    """The u = Av/σ scene's numbers (default matrix the script's ``[[0.4, 0.2], [1, 3]]``).

    Examples
    --------
    >>> import numpy as np
    >>> from svdlens.video import u_from_v_numbers
    >>> n = u_from_v_numbers()
    >>> bool(np.allclose(n.u_from_v, n.U))
    True
    """
    A = check_matrix(matrix)
    U, S, Vt = matrix_svd(A)
    V = Vt.copy()
    Av = V @ A.T
    nonzero = S > RANK_TOL * S[0]
    u_from_v = np.full((2, 2), np.nan)
    u_from_v[nonzero] = Av[nonzero] / S[nonzero, None]
    return UFromVNumbers(A, S, V, U.T.copy(), Av, u_from_v)


class UFromVScene(Scene):
    """u = Av/σ: each right singular vector v, sent through A, lands on σ times a left one, u.

    The script ("U = Av using proof"): "Oh, so the right singular are mapped to the left
    singular. That means… u equals M v. — Yes! That is our key equation." and the notes: "When
    you multiply A by a right singular vector v, the result is a vector that's a scaled version
    of the corresponding left singular vector u." Left, the input plane with v₁ and v₂; right,
    the output plane, where A v₁ and A v₂ arrive and shrink by σ₁ and σ₂ to the unit vectors
    u₁ and u₂.

    Parameters
    ----------
    matrix : array-like (2, 2), optional
        Default the script's ``[[0.4, 0.2], [1, 3]]``.
    """

    def __init__(self, matrix=None, **kwargs):
        self.numbers = u_from_v_numbers(matrix)
        super().__init__(**kwargs)

    def construct(self):
        n = self.numbers
        self.play(Write(title("u = A v / σ: the right singular vectors land on the left ones")), run_time=0.5)
        left, right = np.array([-4.0, -0.2, 0.0]), np.array([2.6, -0.2, 0.0])
        unit_in = 1.6
        unit_out = min(1.6, 2.6 / float(n.S[0]))
        self.add(plane(unit_in, 1.4, left, opacity=0.2), plane(unit_out, 2.8 / unit_out, right, opacity=0.2))
        self.add(
            Circle(radius=unit_in, color=GREY, stroke_width=2).move_to(left),
            Circle(radius=unit_out, color=GREY, stroke_width=2).move_to(right),
        )
        self.add(
            text("input space", 22, GREY).move_to(left + np.array([0.0, 2.55, 0.0])),
            text("output space", 22, GREY).move_to(right + np.array([0.0, 2.55, 0.0])),
        )

        def at(p, unit, origin):
            return origin + unit * np.array([p[0], p[1], 0.0])

        vs = []
        for i in range(2):
            v = arrow(left, at(n.V[i], unit_in, left), PAIR_COLORS[i])
            label = text(f"v{'₁₂'[i]}", 24, PAIR_COLORS[i]).next_to(v.get_end(), UP if n.V[i][1] >= 0 else DOWN, 0.08)
            self.play(GrowArrow(v), FadeIn(label), run_time=0.4)
            vs.append(v)
        bridge = CurvedArrow(
            left + np.array([1.9, 1.9, 0.0]), right + np.array([-2.0, 1.9, 0.0]), angle=-0.5, color=WHITE
        )
        self.play(FadeIn(bridge), FadeIn(text("A", 28).next_to(bridge, UP, buff=0.05)), run_time=0.4)

        for i in range(2):
            color = PAIR_COLORS[i]
            sub = "₁₂"[i]
            moved = vs[i].copy()
            Av = arrow(right, at(n.Av[i], unit_out, right), color)
            self.play(Transform(moved, Av), run_time=0.8)
            self.add(Av.copy().set_opacity(0.3))  # A v stays behind, faint, as u takes its place
            eq_y = -2.55 - 0.5 * i
            if np.isfinite(n.u_from_v[i, 0]):
                u = arrow(right, at(n.u_from_v[i], unit_out, right), color)
                self.play(Transform(moved, u), run_time=0.6)
                side = UP if n.u_from_v[i][1] >= 0 else DOWN
                self.add(text(f"u{sub}", 24, color).next_to(u.get_end(), side, 0.08))
                words = f"u{sub} = A v{sub} / σ{sub} = {vec(n.Av[i])} / {fmt(n.S[i])} = {vec(n.u_from_v[i])}"
            elif n.S[i] == 0:
                words = f"σ{sub} = 0: A v{sub} = 0, and u{sub} is any unit vector orthogonal to u₁"
            else:
                words = (
                    f"σ{sub} = {fmt(n.S[i])} is too small next to σ₁ = {fmt(n.S[0])} to divide by: "
                    f"u{sub} is the unit vector orthogonal to u₁"
                )
            self.play(FadeIn(text(words, 22, color).move_to(np.array([0.0, eq_y, 0.0]))), run_time=0.4)
        self.play(
            FadeIn(caption("A v = σ u: each direction in is sent to its own direction out", 22, HIGHLIGHT)),
            run_time=0.3,
        )
        self.wait(0.5)


__all__ = ["UFromVNumbers", "u_from_v_numbers", "UFromVScene", "RANK_TOL"]

"""Scene 4, rotate, scale, rotate: a grid, the unit circle and a face carried through Vᵀ, Σ and U."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from manim import ApplyMatrix, Create, Dot, FadeIn, Group, Line, Rotate, Scene, VectorizedPoint, VGroup, VMobject, Write

import svdlens as sl

from ._check import check_matrix, matrix_svd
from ._draw import (
    FRAME_TEXT_WIDTH,
    GREY,
    HIGHLIGHT,
    ORIGIN,
    PAIR_COLORS,
    WHITE,
    caption,
    fmt,
    image,
    plane,
    text,
    title,
    to_rgba,
)

GRID_TICKS = np.linspace(-1.0, 1.0, 5)
"""Where the moving grid's lines are, in each coordinate."""


@dataclass(frozen=True)
class Stage:
    """One factor of A = U Σ Vᵀ as the scene shows it."""

    name: str  # "Vᵀ", "Σ" or "U"
    matrix: np.ndarray  # (2, 2)
    kind: str  # "rotate", "reflect" or "scale"
    angle_degrees: float | None  # for a rotation, counter-clockwise


@dataclass(frozen=True)
class RotateScaleRotateNumbers:
    """The numbers of the rotate-scale-rotate scene.

    Attributes
    ----------
    A : (2, 2) the matrix.
    U, S, Vt : its SVD from :func:`svdlens.svd`, ``A = U @ diag(S) @ Vt`` (a σ at rounding-noise
        level is 0). When both U and Vᵀ come out as reflections, the second singular pair's
        sign is flipped in both (A is unchanged), so that both are rotations; when det A < 0
        one must reflect. When σ₂ = 0 (A is singular), u₂ and v₂ may each flip (σ₂ u₂ v₂ᵀ = 0),
        so both are rotations then too: Σ flattens the plane onto a line.
    stages : the three factors in the order they act: Vᵀ, then Σ, then U.
    cumulative : (4, 2, 2) the map after 0, 1, 2 and 3 stages: I, Vᵀ, ΣVᵀ, UΣVᵀ (= A).
    markers : (8, 2) points of the unit circle the scene marks with dots.
    basis : (2, 2) e₁ and e₂.
    grid : (n, 2, 2) the moving grid's segments, each (start, end).
    circle : (m, 2) points of the unit circle.
    image_corners : (4, 2) the face's corners, upper-left, upper-right, lower-left, lower-right
        (Manim's order): the face covers the unit square [0, 1]².
    face : (h, w) the face drawn (the first built-in face), in [0, 1].
    """

    A: np.ndarray
    U: np.ndarray
    S: np.ndarray
    Vt: np.ndarray
    stages: tuple[Stage, Stage, Stage]
    cumulative: np.ndarray
    markers: np.ndarray
    basis: np.ndarray
    grid: np.ndarray
    circle: np.ndarray
    image_corners: np.ndarray
    face: np.ndarray

    def starting_points(self) -> dict[str, np.ndarray]:
        """Every tracked point before the map, by name, each (n, 2)."""
        return {
            "markers": self.markers,
            "basis": self.basis,
            "grid": self.grid.reshape(-1, 2),
            "circle": self.circle,
            "image": self.image_corners,
        }

    def final_points(self) -> dict[str, np.ndarray]:
        """Every tracked point after the map: A applied to :meth:`starting_points`."""
        return {k: v @ self.A.T for k, v in self.starting_points().items()}


def _orthogonal_stage(name: str, Q: np.ndarray) -> Stage:
    if np.linalg.det(Q) > 0:
        return Stage(name, Q, "rotate", float(np.degrees(np.arctan2(Q[1, 0], Q[0, 0]))))
    return Stage(name, Q, "reflect", None)


def rotate_scale_rotate_numbers(matrix=None) -> RotateScaleRotateNumbers:
    """The rotate-scale-rotate scene's numbers: A's SVD as three moves, and the points they carry.

    Parameters
    ----------
    matrix : array-like (2, 2), optional
        Default the script's ``[[0.4, 0.2], [1, 3]]``.

    Examples
    --------
    >>> import numpy as np
    >>> from svdlens.video import rotate_scale_rotate_numbers
    >>> n = rotate_scale_rotate_numbers()
    >>> [(s.name, s.kind) for s in n.stages]
    [('Vᵀ', 'rotate'), ('Σ', 'scale'), ('U', 'rotate')]
    >>> bool(np.allclose(n.cumulative[-1], n.A))
    True
    """
    A = check_matrix(matrix)
    U, S, Vt = matrix_svd(A)
    if np.linalg.det(U) < 0 and np.linalg.det(Vt) < 0:
        U[:, 1] *= -1
        Vt[1] *= -1
    elif S[1] == 0:  # singular: σ₂ u₂ v₂ᵀ = 0, so u₂ and v₂ may each flip: both become rotations
        if np.linalg.det(U) < 0:
            U[:, 1] *= -1
        if np.linalg.det(Vt) < 0:
            Vt[1] *= -1
    Sigma = np.diag(S)
    stages = (_orthogonal_stage("Vᵀ", Vt), Stage("Σ", Sigma, "scale", None), _orthogonal_stage("U", U))
    cumulative = np.stack([np.eye(2), Vt, Sigma @ Vt, U @ Sigma @ Vt])
    t = 2 * np.pi * np.arange(8) / 8 + np.pi / 8
    markers = np.stack([np.cos(t), np.sin(t)], axis=1)
    lines = []
    for c in GRID_TICKS:
        lines.append([[c, GRID_TICKS[0]], [c, GRID_TICKS[-1]]])
        lines.append([[GRID_TICKS[0], c], [GRID_TICKS[-1], c]])
    s = 2 * np.pi * np.arange(96) / 96
    circle = np.stack([np.cos(s), np.sin(s)], axis=1)
    corners = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    face = np.asarray(sl.faces.builtin()[0], dtype=float)
    return RotateScaleRotateNumbers(
        A, U, S, Vt, stages, cumulative, markers, np.eye(2), np.array(lines), circle, corners, face
    )


class RotateScaleRotateScene(Scene):
    """Rotate, scale, rotate: a grid, the unit circle and a face carried through Vᵀ, Σ and U.

    The script (3b): "V transpose rotates. D scales. And U rotates again. So just remember these
    three words — rotate, scale, rotate. … SVD is just UDV." The plane's grid, the unit circle
    (with eight marked points), e₁, e₂ and a face on the unit square move through Vᵀ (a
    rotation), Σ (a stretch along the axes) and U (a rotation); at the end every point sits at
    A times where it started.

    Test hooks: after :meth:`render`, ``tracked`` maps each name of
    :meth:`RotateScaleRotateNumbers.starting_points` to the mobjects that carry those points,
    and :meth:`current_points` reads their coordinates back in the matrix's units.

    Parameters
    ----------
    matrix : array-like (2, 2), optional
        Default the script's ``[[0.4, 0.2], [1, 3]]``.
    """

    origin = ORIGIN + np.array([-2.4, -0.3, 0.0])

    def __init__(self, matrix=None, **kwargs):
        self.numbers = rotate_scale_rotate_numbers(matrix)
        n = self.numbers
        reach = max(float(np.abs(C @ np.vstack(list(n.starting_points().values())).T).max()) for C in n.cumulative)
        self.unit = min(1.5, 3.3 / reach)  # scene units per unit: every stage fits in the frame
        self.tracked: dict[str, list] = {}
        super().__init__(**kwargs)

    # ------------------------------------------------------------ test hooks
    def to_scene(self, p) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        return self.origin + self.unit * np.array([p[0], p[1], 0.0])

    def to_plane(self, q) -> np.ndarray:
        return (np.asarray(q, dtype=float)[..., :2] - self.origin[:2]) / self.unit

    def current_points(self) -> dict[str, np.ndarray]:
        """The tracked points where their mobjects are now, in the matrix's units, each (n, 2)."""
        out = {}
        for name, mobs in self.tracked.items():
            if name == "grid":
                pts = [p for line in mobs for p in (line.get_start(), line.get_end())]
            elif name == "circle":
                pts = mobs[0].get_anchors()[::2][: len(self.numbers.circle)]
            elif name == "image":
                pts = mobs[0].points
            else:
                pts = [m.get_center() for m in mobs]
            out[name] = self.to_plane(np.asarray(pts))
        return out

    # ---------------------------------------------------------------- drawing
    def construct(self):
        n = self.numbers
        self.add(plane(self.unit, 4.2 / self.unit, self.origin, opacity=0.15))
        self.play(Write(title("Rotate, scale, rotate: A = U Σ Vᵀ")), run_time=0.5)

        face = image(to_rgba(n.face, 0.0, 1.0), self.unit)
        face.set_opacity(0.85)
        face.points = np.array([self.to_scene(p) for p in n.image_corners])
        grid = VGroup(*[Line(self.to_scene(a), self.to_scene(b), color=GREY, stroke_width=2) for a, b in n.grid])
        circle = VMobject(color=WHITE, stroke_width=3)
        circle.set_points_as_corners([self.to_scene(p) for p in np.vstack([n.circle, n.circle[:1]])])
        basis = [
            Line(self.to_scene([0, 0]), self.to_scene(e), color=PAIR_COLORS[i], stroke_width=6)
            for i, e in enumerate(n.basis)
        ]
        tips = [VectorizedPoint(self.to_scene(e)) for e in n.basis]
        anchors = [VectorizedPoint(self.to_scene(p)) for p in n.markers]
        dots = []
        for a, color in zip(anchors + tips, [HIGHLIGHT] * len(anchors) + list(PAIR_COLORS)):
            dot = Dot(a.get_center(), radius=0.09, color=color)
            dot.add_updater(lambda d, a=a: d.move_to(a.get_center()))
            dots.append(dot)
        self.tracked = {"markers": anchors, "basis": tips, "grid": list(grid), "circle": [circle], "image": [face]}
        moving = Group(face, grid, circle, *basis, *tips, *anchors)
        self.play(FadeIn(face), Create(grid), Create(circle), *[Create(b) for b in basis], run_time=0.8)
        self.add_foreground_mobjects(*dots)  # drawn over the grid, circle and face as they move

        panel_left = 2.2  # the steps' text starts here, and may reach the frame's right margin
        panel_width = FRAME_TEXT_WIDTH / 2 - panel_left
        for k, stage in enumerate(n.stages):
            if stage.kind == "rotate":
                words = f"{stage.name}: rotate by {fmt(stage.angle_degrees)}°"
            elif stage.kind == "reflect":
                words = f"{stage.name}: rotate and reflect"
            else:
                words = f"{stage.name}: scale by σ₁ = {fmt(n.S[0])}, σ₂ = {fmt(n.S[1])}"
            line = text(f"{k + 1}. {words}", 22, HIGHLIGHT, max_width=panel_width)
            line.next_to(np.array([panel_left, 1.2 - 0.7 * k, 0.0]), np.array([1.0, 0.0, 0.0]), buff=0)
            self.play(FadeIn(line), run_time=0.3)
            if stage.kind == "rotate":
                self.play(
                    Rotate(moving, angle=np.radians(stage.angle_degrees or 0.0), about_point=self.origin), run_time=1.1
                )
            else:
                self.play(ApplyMatrix(stage.matrix, moving, about_point=self.origin), run_time=1.1)
            line.set_color(WHITE)
        self.play(FadeIn(caption("Every point now sits at A times where it started", 24)), run_time=0.4)
        self.wait(0.5)


__all__ = ["RotateScaleRotateNumbers", "rotate_scale_rotate_numbers", "RotateScaleRotateScene", "Stage"]

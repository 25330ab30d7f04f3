"""Drawing helpers shared by the scenes: colours, Unicode text, matrices, arrows, planes, images.

Everything here draws; nothing computes a number the video shows. Text is Manim's
:class:`~manim.Text` (Pango) with Unicode for the mathematics (ᵀ, σ, Σ, ·, −), so no LaTeX
is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from manim import (
    DOWN,
    LEFT,
    ORIGIN,
    RIGHT,
    UP,
    Arrow,
    DecimalNumber,
    Dot,
    ImageMobject,
    Integer,
    Line,
    NumberPlane,
    Text,
    VGroup,
)
from manim.constants import RESAMPLING_ALGORITHMS

FONT = "DejaVu Sans"  # Debian's default sans font; has ᵀ, σ, Σ, subscripts and arrows

WHITE = "#ECECEC"
GREY = "#8A8A8A"
INPUT = "#F5A623"  # orange: the input vector (the script's "orange")
ROW1 = "#E8505B"  # red: the first row / first singular pair (the script's "red")
ROW2 = "#4A90E2"  # blue: the second row / second singular pair
COL1 = "#F5A623"  # orange: W's first column
COL2 = "#B57EDC"  # purple: W's second column (the script's "purple input basis vector")
HIGHLIGHT = "#FFD84D"  # yellow: what the narration points at
GREEN = "#5CC689"
PAIR_COLORS = (ROW1, ROW2)


def fmt(x: float, digits: int = 3) -> str:
    """A number as the narration would say it: 3 significant digits, Unicode minus, no ``-0``."""
    x = float(x)
    s = f"{x:.{digits}g}"
    if "e" in s:
        s = f"{x:.2e}"
    if s.lstrip("-") in ("0", "0.0"):
        return "0"
    return s.replace("-", "−")


def vec(v: Sequence[float], digits: int = 3) -> str:
    """A vector as ``(a, b)``."""
    return "(" + ", ".join(fmt(x, digits) for x in v) + ")"


FRAME_TEXT_WIDTH = 13.4
"""The widest a line of text may be (Manim's frame is 14.2 units wide)."""


def text(s: str, size: float = 28, color: str = WHITE, max_width: float | None = FRAME_TEXT_WIDTH, **kwargs) -> Text:
    """Unicode text in the video's font, shrunk to ``max_width`` scene units if wider."""
    t = Text(s, font=FONT, font_size=size, color=color, **kwargs)
    if max_width is not None and t.width > max_width:
        t.scale_to_fit_width(max_width)
    return t


def _glyph(s: str, **kwargs) -> Text:
    return Text(s, font=FONT, **kwargs)


def number(value: float, digits: int = 2, size: float = 24, color: str = WHITE, edge=LEFT) -> DecimalNumber:
    """A number that can change every frame (``set_value``): Manim's DecimalNumber drawn with Text.

    It composes cached glyphs, so a new value costs far less than a new :func:`text`. ``edge``
    stays in place as the value's width changes.
    """
    if digits == 0:
        return Integer(int(round(value)), mob_class=_glyph, font_size=size, color=color, edge_to_fix=edge)
    return DecimalNumber(
        value, num_decimal_places=digits, mob_class=_glyph, font_size=size, color=color, edge_to_fix=edge
    )


def title(s: str, size: float = 34) -> Text:
    """The scene's heading, at the top edge."""
    return text(s, size).to_edge(UP, buff=0.3)


def caption(s: str, size: float = 26, color: str = WHITE) -> Text:
    """A line of narration at the bottom edge."""
    return text(s, size, color).to_edge(DOWN, buff=0.3)


class MatrixMob(VGroup):
    """A matrix of numbers between square brackets; ``entries[i][j]`` is the Text of entry (i, j).

    A plain Text grid (Manim's ``Matrix`` would typeset its entries with LaTeX).
    """

    def __init__(
        self,
        values,
        colors=None,
        size: float = 30,
        col_width: float = 1.15,
        row_height: float = 0.6,
        digits: int = 3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        values = np.asarray(values, dtype=float)
        m, n = values.shape
        self.entries = []
        for i in range(m):
            row = []
            for j in range(n):
                color = WHITE if colors is None else colors[i][j]
                t = text(fmt(values[i, j], digits), size, color)
                t.move_to(np.array([(j - (n - 1) / 2) * col_width, ((m - 1) / 2 - i) * row_height, 0.0]))
                row.append(t)
            self.entries.append(row)
        body = VGroup(*[t for row in self.entries for t in row])
        h = m * row_height
        w = n * col_width
        tick = 0.15
        left, right = -w / 2 - 0.05, w / 2 + 0.05
        self.brackets = VGroup(
            Line([left, h / 2, 0], [left, -h / 2, 0]),
            Line([left, h / 2, 0], [left + tick, h / 2, 0]),
            Line([left, -h / 2, 0], [left + tick, -h / 2, 0]),
            Line([right, h / 2, 0], [right, -h / 2, 0]),
            Line([right, h / 2, 0], [right - tick, h / 2, 0]),
            Line([right, -h / 2, 0], [right - tick, -h / 2, 0]),
        ).set_stroke(WHITE, 2)
        self.add(body, self.brackets)

    def column(self, j: int) -> VGroup:
        return VGroup(*[row[j] for row in self.entries])

    def row(self, i: int) -> VGroup:
        return VGroup(*self.entries[i])


def plane(unit: float, extent: float, center=ORIGIN, opacity: float = 0.35) -> NumberPlane:
    """A square coordinate grid of ``±extent`` (in the matrix's units), ``unit`` scene units each."""
    ticks = max(1.0, float(np.ceil(extent)))
    return NumberPlane(
        x_range=[-ticks, ticks, 1],
        y_range=[-ticks, ticks, 1],
        x_length=2 * ticks * unit,
        y_length=2 * ticks * unit,
        background_line_style={"stroke_color": GREY, "stroke_width": 1, "stroke_opacity": opacity},
        axis_config={"stroke_color": GREY, "stroke_width": 2},
    ).move_to(center)


def to_scene(p, unit: float, origin=ORIGIN) -> np.ndarray:
    """Scene coordinates (3-D) of a point of the plane, drawn ``unit`` scene units per unit."""
    p = np.asarray(p, dtype=float)
    return np.asarray(origin, dtype=float) + unit * np.array([p[0], p[1], 0.0])


def arrow(start, end, color: str = WHITE, width: float = 5):
    """An arrow from ``start`` to ``end`` (scene coordinates); a dot where the two meet."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    if np.linalg.norm(end - start) < 1e-3:
        return Dot(start, radius=0.05, color=color)
    return Arrow(
        start,
        end,
        buff=0,
        color=color,
        stroke_width=width,
        max_tip_length_to_length_ratio=0.2,
        max_stroke_width_to_length_ratio=20,
    )


def to_rgba(image, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """An image as 8-bit RGBA pixels for Manim: (h, w) grey, or (c, h, w) / (h, w, c) colour.

    Values are mapped linearly from ``[vmin, vmax]`` (default: the image's own range) to
    ``[0, 255]``, clipped and rounded.
    """
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    lo = float(a.min()) if vmin is None else float(vmin)
    hi = float(a.max()) if vmax is None else float(vmax)
    scaled = np.clip((a - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    g = np.round(scaled * 255).astype(np.uint8)
    if g.ndim == 2:
        g = np.repeat(g[..., None], 3, axis=-1)
    alpha = np.full(g.shape[:2] + (1,), 255, dtype=np.uint8)
    return np.concatenate([g, alpha], axis=-1)


def image(pixels: np.ndarray, height: float) -> ImageMobject:
    """An ImageMobject of RGBA pixels ``height`` scene units tall, drawn without smoothing."""
    mob = ImageMobject(pixels)
    mob.set_resampling_algorithm(RESAMPLING_ALGORITHMS["nearest"])
    mob.height = height
    return mob


def set_pixels(mob: ImageMobject, pixels: np.ndarray) -> ImageMobject:
    """Replace an ImageMobject's pixels in place (same size), keeping its place on screen."""
    mob.pixel_array = np.asarray(pixels, dtype=np.uint8)
    return mob


def frame_box(mob, color: str = GREY, buff: float = 0.04):
    """A thin rectangle around a picture."""
    from manim import SurroundingRectangle

    return SurroundingRectangle(mob, color=color, buff=buff, stroke_width=2)


__all__ = [
    "fmt",
    "vec",
    "text",
    "number",
    "title",
    "caption",
    "MatrixMob",
    "plane",
    "to_scene",
    "arrow",
    "to_rgba",
    "image",
    "set_pixels",
    "frame_box",
    "LEFT",
    "RIGHT",
    "UP",
    "DOWN",
    "ORIGIN",
]

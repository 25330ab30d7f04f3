"""Rich display in notebooks: the HTML that results show through ``_repr_html_``.

Each result type's ``_repr_html_`` is a few lines that call :func:`card` with what the
result already holds: a table of facts (:func:`facts`), a table per triplet or direction with
a bar for its size (:func:`columns`), and a strip of small inline PNGs (:func:`thumbnails`).
Nothing here computes a result; the thumbnails are only encoded. Every string is escaped.

This module sits in the bottom layer so that ``linalg`` can use it too. It imports neither
torch nor svdlens: a tensor is read through its ``detach().cpu().numpy()`` methods, and
matplotlib (for the PNG encoding and :func:`spectrum_figure`) is imported when first used.

Examples
--------
>>> html = card("Demo", facts([("k", 2), ("name", "<b>")]), columns(["i", "σ"], [[1, 3.0], [2, 1.0]]))
>>> html.startswith('<div class="svdlens-repr"') and "&lt;b&gt;" in html
True
"""

from __future__ import annotations

import base64
import io
import math
import sys
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import numpy as np

__all__ = [
    "card",
    "facts",
    "columns",
    "thumbnails",
    "cell",
    "as_numpy",
    "spectrum_rows",
    "spectrum_figure",
    "show_figures_in_jupyter",
]

MAX_ROWS = 10
"""Rows a table shows before it says how many more there are."""

MAX_THUMBNAILS = 8
"""Images a thumbnail strip shows."""

THUMBNAIL_PX = 64
"""Shown width of a thumbnail, in CSS pixels (the PNG keeps at most 2 × this many pixels a side)."""

_TABLE = 'style="border-collapse:collapse;margin:4px 0;font-size:12px"'
_CELL = 'style="padding:1px 8px;text-align:right"'
_KEY = 'style="padding:1px 8px;text-align:left"'


def as_numpy(a: Any) -> np.ndarray:
    """A numpy copy of an array or tensor (a tensor is detached and moved to the CPU)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def cell(value: Any) -> str:
    """One value as escaped text: floats to 4 significant digits, everything else as ``str``."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, tuple) and all(isinstance(v, (int, np.integer)) for v in value):
        return escape("×".join(str(int(v)) for v in value) or "scalar")
    return escape(str(value))


def facts(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of names and values; pairs whose value is None are left out."""
    rows = "".join(
        f"<tr><th {_KEY}>{escape(name)}</th><td {_KEY}>{cell(value)}</td></tr>"
        for name, value in pairs
        if value is not None
    )
    return f"<table {_TABLE}><tbody>{rows}</tbody></table>"


def _bar(fraction: float) -> str:
    width = 0.0 if not math.isfinite(fraction) else min(max(fraction, 0.0), 1.0) * 100
    return f'<div style="background:#2ca02c;height:8px;min-width:1px;width:{width:.1f}px" title="{width:.0f}%"></div>'


def columns(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    bars: Sequence[float] | np.ndarray | None = None,
    limit: int = MAX_ROWS,
) -> str:
    """A table with a header; ``bars`` (fractions in [0, 1], one per row) add a bar column.

    Only the first ``limit`` rows are shown, then a row saying how many were left out.
    """
    head = "".join(f"<th {_CELL}>{escape(h)}</th>" for h in header)
    if bars is not None:
        head += f"<th {_KEY}></th>"
    body = []
    for i, row in enumerate(rows[:limit]):
        cells = "".join(f"<td {_CELL}>{cell(v)}</td>" for v in row)
        if bars is not None:
            cells += f"<td {_KEY}>{_bar(float(bars[i]))}</td>"
        body.append(f"<tr>{cells}</tr>")
    if len(rows) > limit:
        span = len(header) + (bars is not None)
        body.append(f'<tr><td colspan="{span}" {_KEY}>… {len(rows) - limit} more</td></tr>')
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def spectrum_rows(s: Any, residuals: Any = None) -> str:
    """The per-triplet table of singular values ``s`` (with their residuals), a bar each for σᵢ/σ₁."""
    s = as_numpy(s).astype(float).ravel()
    top = float(s.max()) if s.size and s.max() > 0 else 1.0
    if residuals is None:
        return columns(["i", "σ"], [[i + 1, float(v)] for i, v in enumerate(s)], bars=s / top)
    r = as_numpy(residuals).astype(float).ravel()
    rows = [[i + 1, float(v), f"{float(ri):.1e}"] for i, (v, ri) in enumerate(zip(s, r))]
    return columns(["i", "σ", "residual"], rows, bars=s / top)


def _png(image: np.ndarray, signed: bool) -> str:
    from matplotlib.image import imsave

    a = np.asarray(image, dtype=float)
    step = max(1, math.ceil(max(a.shape[:2]) / (2 * THUMBNAIL_PX)))
    a = a[::step, ::step]
    a = np.where(np.isfinite(a), a, 0.0)
    buf = io.BytesIO()
    if a.ndim == 3:  # (h, w, 3|4) colour in [0, 1]
        imsave(buf, np.clip(a, 0.0, 1.0), format="png")
    elif signed:
        lim = float(np.abs(a).max()) or 1.0
        imsave(buf, a, cmap="RdBu_r", vmin=-lim, vmax=lim, format="png")
    else:
        imsave(buf, a, cmap="gray", format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plane(image: Any) -> np.ndarray | None:
    """An image as (h, w) or (h, w, c): leading 1s dropped, (c, h, w) moved to the end; else None."""
    a = as_numpy(image)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[0] in (3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] not in (3, 4):
        return None
    return a if a.ndim in (2, 3) and min(a.shape[:2]) > 0 else None


def thumbnails(
    images: Iterable[Any],
    titles: Sequence[str] = (),
    *,
    signed: bool = False,
    limit: int = MAX_THUMBNAILS,
) -> str:
    """A strip of small inline PNGs with captions; ``""`` when none of ``images`` is an image.

    ``signed`` images (directions, eigenfaces) are drawn red + / blue − about zero; the rest in
    gray on their own range, or in colour when they have 3 or 4 channels (values in [0, 1]).
    A signed colour image is shown as the mean of its channels.
    """
    figures = []
    for i, image in enumerate(list(images)[:limit]):
        a = _plane(image)
        if a is None:
            continue
        if signed and a.ndim == 3:
            a = a.mean(axis=-1)
        title = escape(titles[i]) if i < len(titles) else ""
        figures.append(
            '<figure style="display:inline-block;margin:2px 4px;text-align:center">'
            f'<img src="data:image/png;base64,{_png(a, signed)}" alt="{title}" '
            f'style="width:{THUMBNAIL_PX}px;image-rendering:pixelated"/>'
            f'<figcaption style="font-size:10px">{title}</figcaption></figure>'
        )
    if not figures:
        return ""
    return f"<div>{''.join(figures)}</div>"


def card(title: str, *parts: str) -> str:
    """The whole repr: a bold title, then the parts (already HTML) in order."""
    body = "".join(parts)
    return f'<div class="svdlens-repr" style="font-family:sans-serif"><strong>{escape(title)}</strong>{body}</div>'


def spectrum_figure(s: Any, residuals: Any, title: str):
    """Singular values as bars, each with its residual above it (a Figure without pyplot).

    For results below :mod:`svdlens._plotting` in the layers (an SVD); the same picture as
    :func:`svdlens.nets._figures.spectrum_plot`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = as_numpy(s).astype(float).ravel()
    r = as_numpy(residuals).astype(float).ravel()
    k = np.arange(1, len(s) + 1)
    fig = Figure(figsize=(6, 3.4))
    FigureCanvasAgg(fig)
    show_figures_in_jupyter()
    ax = fig.subplots()
    ax.bar(k, s, color="#2ca02c")
    for i, (si, ri) in enumerate(zip(s, r)):
        ax.annotate(f"{ri:.0e}", (k[i], si), textcoords="offset points", xytext=(0, 2), ha="center", fontsize=7)
    ax.set_xlabel("i")
    ax.set_ylabel("σᵢ")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def show_figures_in_jupyter() -> None:
    """In IPython, register a PNG formatter for figures, as matplotlib's inline backend does.

    The inline backend registers its formatter only once pyplot is used; a figure made without
    pyplot would otherwise show as ``<Figure size 640x480 with 1 Axes>``. An existing formatter
    (pyplot's, or the user's own) is kept. IPython is only looked up, never imported.
    """
    from matplotlib.figure import Figure

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type(Figure)
    except KeyError:
        from IPython.core.pylabtools import print_figure

        png.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))

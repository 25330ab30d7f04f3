"""Shared drawing conventions: colours with a fixed meaning, image panels, atomic saving.

Figures are plain :class:`matplotlib.figure.Figure` objects on an Agg canvas, made without
pyplot, so drawing never touches the user's matplotlib backend or pyplot's figure list. In a
Jupyter kernel they still show themselves as PNG at the end of a cell (``_html.show_figures_in_jupyter``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._atomic import atomic_write
from ._html import show_figures_in_jupyter
from .exceptions import MissingDependencyError

__all__ = [
    "COLORS",
    "new_figure",
    "subplots",
    "save_figure",
    "save_animation",
    "figure_image",
    "image_panel",
    "symmetric_panel",
]

# One meaning per colour, in every figure: inputs, outputs, singular directions.
COLORS = {
    "input": "#1f77b4",  # blue
    "output": "#d62728",  # red
    "singular": "#2ca02c",  # green
    "other": "#7f7f7f",  # grey
    "faces": "#1f77b4",
    "nonfaces": "#ff7f0e",
}


def new_figure(**kwargs: Any) -> Figure:
    """A figure on its own Agg canvas (``kwargs`` as for :class:`~matplotlib.figure.Figure`)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    show_figures_in_jupyter()
    return fig


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, squeeze: bool = True, **kwargs: Any):
    """``(figure, axes)`` as :func:`matplotlib.pyplot.subplots` gives them, without pyplot."""
    fig = new_figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, **kwargs)


def save_figure(fig, path, dpi: int = 110) -> Path:
    """Save a figure (format from the suffix) atomically and close it."""
    try:
        return atomic_write(
            path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix[1:])
        )
    finally:
        fig.clear()


def figure_image(fig, dpi: int = 100) -> np.ndarray:
    """Render a figure to an RGB array (h, w, 3) of uint8, and close it."""
    try:
        fig.set_dpi(dpi)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    finally:
        fig.clear()


def save_animation(anim, path, fps: int = 2) -> Path:
    """Save a matplotlib animation atomically: GIF through Pillow, MP4 through ffmpeg.

    Raises
    ------
    MissingDependencyError
        An MP4 was asked for and ffmpeg is not on the PATH.
    """
    from matplotlib.animation import FFMpegWriter, PillowWriter

    suffix = Path(path).suffix.lower()
    if suffix == ".mp4":
        if not FFMpegWriter.isAvailable():
            raise MissingDependencyError("writing MP4 needs ffmpeg on the PATH (apt-get install ffmpeg)")
        writer: Any = FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
    else:
        writer = PillowWriter(fps=fps)
    return atomic_write(path, lambda tmp: anim.save(tmp, writer=writer))


def image_panel(ax, image, title=None, cmap="gray"):
    """A grayscale image with its own contrast range, no ticks."""
    ax.imshow(image, cmap=cmap, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def symmetric_panel(ax, image, title=None, cmap="RdBu_r"):
    """A signed image on a diverging map with a range symmetric about zero."""
    lim = float(np.abs(image).max()) or 1.0
    ax.imshow(image, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)

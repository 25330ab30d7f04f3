"""Explain: the script's math scenes for any small matrix, as numbers, figures and animations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .._defaults import MAX_EXPLAIN_ENTRY, MAX_EXPLAIN_SIZE
from ..exceptions import InvalidParameterError, SvdlensError
from . import _scenes as S
from ._registry import SCENES, SceneInput
from ._scenes import Scene

__all__ = ["explain", "Explanation"]


@dataclass
class Explanation:
    """The scenes of one matrix, in the script's order.

    Made by :func:`~svdlens.explain`; ``ex[name]`` is the scene called ``name``.

    Attributes
    ----------
    A : numpy.ndarray
        The matrix, float64.
    scenes : list of Scene
        The scenes, each a dataclass of its numbers and the lines that tell them.
    notes : list of str
        Notes on what is drawn for this matrix's shape.

    Examples
    --------
    >>> import svdlens as sl
    >>> ex = sl.explain([[2, 1], [1, 3]], vector=[1, 0], only=["projection"])
    >>> [scene.name for scene in ex.scenes], ex["projection"].y.tolist()
    (['projection'], [2.0, 1.0])
    """

    A: np.ndarray
    scenes: list[Scene] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Scene:
        """The scene called ``name``; a KeyError names the scenes there are."""
        for scene in self.scenes:
            if scene.name == name:
                return scene
        raise KeyError(f"no scene {name!r} here; these are: {', '.join(s.name for s in self.scenes)}")

    def text(self) -> str:
        """The whole story as Markdown: a heading, the notes, then each scene's title and lines.

        Returns
        -------
        str
            Markdown text, ending with a newline.

        Examples
        --------
        >>> import svdlens as sl
        >>> print(sl.explain([[2, 1], [1, 3]], vector=[1, 0], only=["projection"]).text())
        # The SVD of A = [[2, 1]; [1, 3]]
        <BLANKLINE>
        ## Projection: outputs are dot products
        Each output component is one row of A dotted with the input x:
          y1 = 2·1 + 1·0 = 2
          y2 = 1·1 + 3·0 = 1
        The projection of x onto each row's direction is yᵢ/‖rowᵢ‖: [0.8944, 0.3162]
        <BLANKLINE>
        """
        head = [f"# The SVD of A = {S.fmt(self.A)}"] + [f"Note: {n}" for n in self.notes]
        return "\n\n".join(head + [s.text() for s in self.scenes]) + "\n"

    def drawable(self, scene: Scene) -> bool:
        """Whether a scene's picture fits this matrix (2 or 3 dimensions where it is geometric).

        Parameters
        ----------
        scene : Scene
            One of this explanation's scenes.

        Returns
        -------
        bool
            True when the scene's figure can be drawn for ``A``'s shape.
        """
        return SCENES[scene.name].fits(scene, self.A.shape)

    def save(
        self, folder: str | Path, animations: bool = True, format: str = "md", *, force: bool = False
    ) -> list[Path]:
        """Write each scene's figures, animations and a walk-through into ``folder``.

        Each scene's figure is a PNG; the animations (2×2 matrices) are GIFs, and MP4s as well
        when ffmpeg is on the PATH; the walk-through (``explanation.md`` or
        ``explanation.html``) links them in. Nothing is left half-written if a scene fails.

        Parameters
        ----------
        folder : str or pathlib.Path
            The output folder; created if missing.
        animations : bool
            Also write the animations.
        format : {"md", "html"}
            The walk-through's format.
        force : bool
            Replace files in ``folder`` that svdlens did not write.

        Returns
        -------
        list of pathlib.Path
            The written paths, the walk-through last.

        Raises
        ------
        SvdlensError
            An unknown format.
        OutputError
            ``folder`` is a file or holds files svdlens did not write (without ``force``).

        Examples
        --------
        >>> import tempfile, svdlens as sl
        >>> ex = sl.explain([[2, 1], [1, 3]], only=["projection"])
        >>> [path.name for path in ex.save(tempfile.mkdtemp(), animations=False)]
        ['01-projection.png', 'explanation.md']
        """
        import shutil

        from .._atomic import staged_output
        from .._plotting import save_animation, save_figure

        if format not in ("md", "html"):
            raise SvdlensError(f"format must be 'md' or 'html'; got {format!r}")
        folder = Path(folder)
        written, sections = [], []
        ffmpeg = shutil.which("ffmpeg") is not None
        with staged_output(folder, force=force) as stage:
            for i, scene in enumerate(self.scenes, start=1):
                files = []
                spec = SCENES[scene.name]
                if spec.draw is not None and self.drawable(scene):
                    fig = spec.draw(scene)
                    if fig is not None:
                        files.append(f"{i:02d}-{scene.name}.png")
                        save_figure(fig, stage / files[-1])
                flat = self.A.shape == (2, 2)
                if animations and spec.animate is not None and self.drawable(scene) and flat:
                    files.append(f"{i:02d}-{scene.name}.gif")
                    save_animation(spec.animate(scene), stage / files[-1], fps=8)
                    if ffmpeg:
                        files.append(f"{i:02d}-{scene.name}.mp4")
                        save_animation(spec.animate(scene), stage / files[-1], fps=8)
                sections.append((scene, files))
                written += [folder / f for f in files]
            name = f"explanation.{format}"
            (stage / name).write_text(_markdown(self, sections) if format == "md" else _html(self, sections))
            written.append(folder / name)
        return written


def _markdown(ex, sections) -> str:
    out = [f"# The SVD of A = {S.fmt(ex.A)}", ""] + [f"> Note: {n}" for n in ex.notes]
    for scene, files in sections:
        out += ["", scene.text(), ""]
        for f in files:
            out.append(f"![{scene.title}]({f})" if not f.endswith(".mp4") else f"[{scene.title} (video)]({f})")
    return "\n".join(out) + "\n"


def _html(ex, sections) -> str:
    import html

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>svdlens explain</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}pre{background:#f6f6f6;padding:.6em}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>The SVD of A = {html.escape(S.fmt(ex.A))}</h1>",
    ]
    parts += [f"<p><em>Note: {html.escape(n)}</em></p>" for n in ex.notes]
    for scene, files in sections:
        parts.append(f"<h2>{html.escape(scene.title)}</h2><pre>{html.escape(chr(10).join(scene.lines))}</pre>")
        for f in files:
            if f.endswith(".mp4"):
                parts.append(f"<video controls src='{f}'></video>")
            else:
                parts.append(f"<img src='{f}' alt='{html.escape(scene.title)}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def explain(
    A: ArrayLike,
    vector: ArrayLike | None = None,
    only: Sequence[str] | None = None,
    picture: ArrayLike | None = None,
) -> Explanation:
    """Every scene of the script for the matrix ``A`` (2×2 is the main case).

    Parameters
    ----------
    A : array_like, 2-D
        The matrix. 3×2 and 2×3 matrices are drawn in 3-D; larger ones get the numbers and
        heatmaps only.
    vector : array_like, optional
        The input of the projection scene (default: ones).
    only : list of str, optional
        The scenes to keep (names from :data:`svdlens.scenes.SCENES`).
    picture : array_like (h, w), optional
        Moved through rotate, scale, rotate (default: the first built-in face).

    Returns
    -------
    Explanation
        ``ex.text()`` tells the story with the numbers; ``ex[name]`` is one scene;
        ``ex.save(folder)`` writes figures, animations and a walk-through.

    Raises
    ------
    SvdlensError
        ``A`` is not a finite 2-D matrix, is larger than ``MAX_EXPLAIN_SIZE`` or has entries
        above ``MAX_EXPLAIN_ENTRY``; ``vector`` does not have one entry per column; an
        unknown scene name.

    Examples
    --------
    >>> import svdlens as sl
    >>> ex = sl.explain([[0.4, 0.2], [1.0, 3.0]], vector=[2, 1], only=["projection"])
    >>> ex["projection"].y.tolist()
    [1.0, 5.0]
    """
    from ..linalg._checks import as_matrix

    A = np.asarray(as_matrix(np.asarray(A, dtype=float)), dtype=float)
    m, n = A.shape
    if max(m, n) > MAX_EXPLAIN_SIZE:
        raise InvalidParameterError(
            f"A is {m}×{n}; explain tells the story of matrices up to {MAX_EXPLAIN_SIZE}×{MAX_EXPLAIN_SIZE} "
            "(every scene prints its matrices). Take its SVD with svdlens.svd instead"
        )
    if np.abs(A).max() > MAX_EXPLAIN_ENTRY:
        raise InvalidParameterError(
            f"A has an entry of {np.abs(A).max():.3g}; explain takes entries up to {MAX_EXPLAIN_ENTRY:g} in size "
            "(AᵀA squares them). Rescale A first: its singular vectors do not change"
        )
    x = np.ones(n) if vector is None else np.asarray(vector, dtype=float).reshape(-1)
    if x.shape[0] != n:
        raise SvdlensError(f"the vector has {x.shape[0]} entries but A has {n} columns; give {n} numbers")
    wanted = tuple(SCENES) if only is None else tuple(only)
    unknown = set(wanted) - set(SCENES)
    if unknown:
        raise InvalidParameterError(f"unknown scene(s) {sorted(unknown)}; choose from {', '.join(SCENES)}")
    ex = Explanation(A)
    if n != 2:
        ex.notes.append(
            "the geometric scenes are drawn for 2 or 3 dimensions (3-D where needed); the eigenvector "
            "pictures need 2 columns, and larger matrices get the numbers and heatmaps only"
        )
    given = SceneInput(A=A, x=x, picture=None if picture is None else np.asarray(picture, dtype=float))
    ex.scenes = [spec.compute(given) for name, spec in SCENES.items() if name in wanted]
    return ex

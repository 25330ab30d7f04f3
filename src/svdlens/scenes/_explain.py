"""Explain: the script's math scenes for any small matrix, as numbers, figures and animations."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._defaults import MAX_EXPLAIN_ENTRY, MAX_EXPLAIN_SIZE
from ..exceptions import InvalidParameterError, SvdlensError
from . import _scenes as S
from ._registry import SCENES, SceneInput
from ._scenes import Scene

__all__ = ["explain", "Explanation"]


@dataclass
class Explanation:
    """The scenes of one matrix, in the script's order."""

    A: np.ndarray
    scenes: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def __getitem__(self, name: str) -> Scene:
        """The scene called ``name``; a KeyError names the scenes there are."""
        for scene in self.scenes:
            if scene.name == name:
                return scene
        raise KeyError(f"no scene {name!r} here; these are: {', '.join(s.name for s in self.scenes)}")

    def text(self) -> str:
        head = [f"# The SVD of A = {S.fmt(self.A)}"] + [f"Note: {n}" for n in self.notes]
        return "\n\n".join(head + [s.text() for s in self.scenes]) + "\n"

    def drawable(self, scene: Scene) -> bool:
        """Whether a scene's picture fits this matrix (2 or 3 dimensions where it is geometric)."""
        return SCENES[scene.name].fits(scene, self.A.shape)

    def save(self, folder, animations: bool = True, format: str = "md", *, force: bool = False) -> list[Path]:
        """Write each scene's figure (PNG), the animations (GIF, and MP4 when ffmpeg is on the PATH),
        and a walk-through (``explanation.md`` or ``explanation.html``) with the figures linked in.
        Returns the written paths. Nothing is left half-written if a scene fails."""
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


def explain(A, vector=None, only=None, picture=None) -> Explanation:
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

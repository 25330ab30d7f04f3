"""Explain: the script's math scenes for any small matrix, as numbers, figures and animations."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import scenes as S

__all__ = ["explain", "Explanation", "SCENES"]

SCENES = (
    "projection", "dot_products", "change_of_basis", "inputs_with_inputs", "eigenvectors",
    "rotate_scale_rotate", "u_from_v", "max_variance", "least_squares", "low_rank", "superposition",
)
GEOMETRIC = {"projection", "eigenvectors", "rotate_scale_rotate", "u_from_v"}


@dataclass
class Explanation:
    """The scenes of one matrix, in the script's order."""

    A: np.ndarray
    scenes: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def __getitem__(self, name):
        return next(s for s in self.scenes if s.name == name)

    def text(self) -> str:
        head = [f"# The SVD of A = {S.fmt(self.A)}"] + [f"Note: {n}" for n in self.notes]
        return "\n\n".join(head + [s.text() for s in self.scenes]) + "\n"

    def drawable(self, scene) -> bool:
        """Whether a scene's picture fits this matrix (2 or 3 dimensions where it is geometric)."""
        m, n = self.A.shape
        if scene.name == "projection":
            return n in (2, 3)
        if scene.name == "eigenvectors":
            return n == 2
        if scene.name == "rotate_scale_rotate":
            return "steps" in scene.numbers
        if scene.name == "u_from_v":
            return m <= 3 and n <= 3
        return True

    def save(self, folder, animations: bool = True, format: str = "md") -> list[Path]:
        """Write each scene's figure (PNG), the animations (GIF, and MP4 when ffmpeg is on the PATH),
        and a walk-through (``explanation.md`` or ``explanation.html``) with the figures linked in.
        Returns the written paths. Nothing is left half-written if a scene fails."""
        import shutil

        from ..atomic import staged_output
        from ..plotting import save_animation, save_figure
        from .figures import ANIMATE, DRAW

        if format not in ("md", "html"):
            raise ValueError(f"format must be 'md' or 'html'; got {format!r}")
        folder = Path(folder)
        written, sections = [], []
        ffmpeg = shutil.which("ffmpeg") is not None
        with staged_output(folder) as stage:
            for i, scene in enumerate(self.scenes, start=1):
                files = []
                if scene.name in DRAW and self.drawable(scene):
                    fig = DRAW[scene.name](scene)
                    if fig is not None:
                        files.append(f"{i:02d}-{scene.name}.png")
                        save_figure(fig, stage / files[-1])
                flat = self.A.shape == (2, 2)
                if animations and scene.name in ANIMATE and self.drawable(scene) and flat:
                    files.append(f"{i:02d}-{scene.name}.gif")
                    save_animation(ANIMATE[scene.name](scene), stage / files[-1], fps=8)
                    if ffmpeg:
                        files.append(f"{i:02d}-{scene.name}.mp4")
                        save_animation(ANIMATE[scene.name](scene), stage / files[-1], fps=8)
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

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>svdlens explain</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:auto}pre{background:#f6f6f6;padding:.6em}"
             "img{max-width:100%}</style></head><body>",
             f"<h1>The SVD of A = {html.escape(S.fmt(ex.A))}</h1>"]
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

    ``vector`` is the input of the projection scene (default: ones). ``only`` names scenes to
    keep. ``picture`` (h, w) is moved through rotate, scale, rotate (default: the first built-in
    face). 3×2 and 2×3 matrices are drawn in 3-D; larger ones get the numbers and heatmaps only.
    """
    from ..linalg.checks import as_matrix

    A = np.asarray(as_matrix(np.asarray(A, dtype=float)), dtype=float)
    m, n = A.shape
    x = np.ones(n) if vector is None else np.asarray(vector, dtype=float).reshape(-1)
    if x.shape[0] != n:
        raise ValueError(f"the vector has {x.shape[0]} entries but A has {n} columns; give {n} numbers")
    wanted = SCENES if only is None else tuple(only)
    unknown = set(wanted) - set(SCENES)
    if unknown:
        raise ValueError(f"unknown scene(s) {sorted(unknown)}; choose from {', '.join(SCENES)}")
    ex = Explanation(A)
    if n != 2:
        ex.notes.append(
            "the geometric scenes are drawn for 2 or 3 dimensions (3-D where needed); the eigenvector "
            "pictures need 2 columns, and larger matrices get the numbers and heatmaps only"
        )
    builders = {
        "projection": lambda: S.projection(A, x),
        "dot_products": S.dot_products,
        "change_of_basis": S.change_of_basis,
        "inputs_with_inputs": lambda: S.inputs_with_inputs(A),
        "eigenvectors": lambda: S.eigenvectors(A),
        "rotate_scale_rotate": lambda: S.rotate_scale_rotate(A, picture=_picture(picture)),
        "u_from_v": lambda: S.u_from_v(A),
        "max_variance": S.max_variance,
        "least_squares": lambda: S.least_squares(A, A @ x + np.eye(m)[0]) if m > n else S.least_squares(),
        "low_rank": lambda: S.low_rank(A),
        "superposition": S.superposition,
    }
    ex.scenes = [builders[name]() for name in SCENES if name in wanted]
    return ex


def _picture(picture):
    if picture is not None:
        return np.asarray(picture, dtype=float)
    from ..faces import builtin

    return builtin("faces")[0]

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

    def save(self, folder, animations: bool = True) -> list[Path]:
        """Write each scene's figure (PNG) and animation (GIF); return the written paths."""
        from ..atomic import staged_output
        from ..plotting import save_animation, save_figure
        from .figures import ANIMATE, DRAW

        written = []
        folder = Path(folder)
        with staged_output(folder) as stage:
            for i, scene in enumerate(self.scenes, start=1):
                geometric_ok = not (scene.name in GEOMETRIC and self.A.shape[1] != 2)
                if scene.name in DRAW and geometric_ok:
                    name = f"{i:02d}-{scene.name}.png"
                    save_figure(DRAW[scene.name](scene), stage / name)
                    written.append(folder / name)
                if animations and scene.name in ANIMATE and geometric_ok and self.A.shape[0] == 2:
                    name = f"{i:02d}-{scene.name}.gif"
                    save_animation(ANIMATE[scene.name](scene), stage / name, fps=8)
                    written.append(folder / name)
            (stage / "explanation.md").write_text(self.text())
            written.append(folder / "explanation.md")
        return written


def explain(A, vector=None, only=None) -> Explanation:
    """Every scene of the script for the matrix ``A`` (2×2 is the main case).

    ``vector`` is the input of the projection scene (default: ones). ``only`` names scenes to
    keep. Matrices with more than 3 columns or rows get the numbers and heatmaps only.
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
        ex.notes.append("the geometric scenes draw 2 input dimensions; this matrix gets numbers and heatmaps for those")
    builders = {
        "projection": lambda: S.projection(A, x),
        "dot_products": S.dot_products,
        "change_of_basis": S.change_of_basis,
        "inputs_with_inputs": lambda: S.inputs_with_inputs(A),
        "eigenvectors": lambda: S.eigenvectors(A),
        "rotate_scale_rotate": lambda: S.rotate_scale_rotate(A),
        "u_from_v": lambda: S.u_from_v(A),
        "max_variance": S.max_variance,
        "least_squares": lambda: S.least_squares(A, A @ x + np.eye(m)[0]) if m > n else S.least_squares(),
        "low_rank": lambda: S.low_rank(A),
        "superposition": S.superposition,
    }
    ex.scenes = [builders[name]() for name in SCENES if name in wanted]
    return ex

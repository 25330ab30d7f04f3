"""The eigenfaces study that the command line and the demo both show: numbers, then figures.

:func:`study` fits the eigenfaces and computes their uses (reconstruction, the puzzle,
compression, and face detection on the built-in non-faces); :func:`draw_study` draws them
into a folder. Neither writes anything else, so callers decide where files go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._plotting import save_animation, save_figure
from ._estimator import Eigenfaces
from ._uses import RECONSTRUCTION_KS, CompressionCurve, Detection, Puzzle, compression_curve, detect_faces, solve_puzzle

__all__ = ["FaceStudy", "study", "draw_study", "STUDY_FIGURES"]

STUDY_FIGURES = (
    "eigenfaces.png",
    "scree.png",
    "reconstruction.png",
    "reconstruction.gif",
    "compression.png",
    "puzzle.png",
    "distances.png",
)
"""The files :func:`draw_study` writes (``distances.png`` only with non-faces)."""


@dataclass
class FaceStudy:
    """A fitted model and what it shows on one face.

    ``model`` has the k eigenfaces asked for; ``full`` keeps every component (for the
    reconstruction strip); ``target`` is the first face as the model sees it (normalised);
    ``reconstructions`` maps a k (or "all (n)") to the face rebuilt from k components.
    """

    model: Eigenfaces
    full: Eigenfaces
    target: np.ndarray
    reconstructions: dict
    puzzle: Puzzle
    compression: CompressionCurve
    detection: Detection | None = None
    detection_split: str = ""
    extra: dict = field(default_factory=dict)


def study(
    X: np.ndarray,
    *,
    k: int = 20,
    method: str = "auto",
    normalize: str | None = "standardize",
    nonfaces: np.ndarray | None = None,
    model: Eigenfaces | None = None,
) -> FaceStudy:
    """Fit (or take the fitted ``model``) and compute every use shown of it.

    Parameters
    ----------
    X : (n, h, w) faces; the first one is the face of the puzzle and the reconstructions.
    k, method, normalize : as for :class:`Eigenfaces`.
    nonfaces : (m, h, w), optional
        Non-face crops. With them, a model fitted on faces 0–59 scores faces 60–99 against
        them (held-out face detection; needs at least 61 faces).
    model : Eigenfaces, optional
        A model already fitted (for example out of core); it is then also used as ``full``.
    """
    ef = model if model is not None else Eigenfaces(n_components=k, method=method, normalize=normalize).fit(X)
    face = X[0]
    full = ef if model is not None else Eigenfaces(n_components=None, method=method, normalize=normalize).fit(X)
    ks = [kk for kk in RECONSTRUCTION_KS if kk <= full.n_components_]
    recon: dict = {kk: full.reconstruct(face, kk)[0] for kk in ks}
    recon[f"all ({full.n_components_})"] = full.reconstruct(face)[0]
    target = full._normalized(full._flatten(face[None], fitting=False))[0].reshape(full.image_shape_)
    result = FaceStudy(ef, full, target, recon, solve_puzzle(ef, face), compression_curve(ef, X[: min(len(X), 2000)]))
    if nonfaces is not None and len(X) > 60:
        held = Eigenfaces(n_components=min(ef.n_components_, 59), method=method, normalize=normalize).fit(X[:60])
        result.detection = detect_faces(held, X[60:], nonfaces)
        result.detection_split = f"fit on faces 0-59; faces 60-{len(X) - 1} against the {len(nonfaces)} non-faces"
    return result


def draw_study(result: FaceStudy, folder: str | Path) -> list[str]:
    """Draw the study into ``folder``; return the file names written."""
    from . import _figures as figures

    folder = Path(folder)
    written = []

    def save(fig, name):
        save_figure(fig, folder / name)
        written.append(name)

    save(figures.eigenface_gallery(result.model), "eigenfaces.png")
    save(figures.scree_plot(result.model), "scree.png")
    save(figures.reconstruction_strip(result.target, result.reconstructions), "reconstruction.png")
    save_animation(
        figures.reconstruction_animation(result.target, result.reconstructions), folder / "reconstruction.gif", fps=1
    )
    written.append("reconstruction.gif")
    save(figures.compression_plot(result.compression), "compression.png")
    save(figures.puzzle_bars(result.puzzle), "puzzle.png")
    if result.detection is not None:
        save(figures.distance_histogram(result.detection), "distances.png")
    return written

"""The ``svdlens eigenfaces`` job: fit, use and draw, writing everything into one folder atomically."""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from ..atomic import staged_output
from ..plotting import save_animation, save_figure
from . import figures
from .data import builtin, load
from .estimator import Eigenfaces
from .uses import RECONSTRUCTION_KS, compression_curve, detect_faces, solve_puzzle

__all__ = ["run_eigenfaces", "STEPS"]

STEPS = ("load", "fit", "figures", "puzzle", "detection", "write")


def run_eigenfaces(
    out,
    images=None,
    *,
    size=None,
    k: int = 20,
    method: str = "auto",
    normalize="standardize",
    out_of_core: bool = False,
    chunk_rows: int = 4096,
    scheduler: str | None = None,
    progress=None,
) -> dict:
    """Fit eigenfaces to the built-in faces (or ``images``) and write figures, model and summary to ``out``.

    ``progress(step_name)`` is called as each step starts. Returns the summary written to
    ``summary.json``. Nothing is left half-written in ``out`` if a step fails.
    """
    tick = progress or (lambda step: None)
    timings: dict[str, float] = {}
    summary: dict = {"source": "built-in faces (scikit-image lfw_subset)" if images is None else str(images)}

    def timed(name):
        tick(name)
        start = time.perf_counter()
        return start

    if out_of_core and images is None:
        raise ValueError("--out-of-core needs --images (a .npy file or a folder of images)")
    t = timed("load")
    nonfaces = None
    if images is None:
        X, nonfaces = builtin("faces"), builtin("nonfaces")
    elif out_of_core:
        X = None
    else:
        X, report = load(images, size, return_report=True)
        summary["skipped"] = report.skipped
    timings["load_s"] = time.perf_counter() - t

    t = timed("fit")
    ef = Eigenfaces(n_components=k, method=method, normalize=normalize)
    if out_of_core:
        from .outofcore import fit_out_of_core

        fit_out_of_core(ef, images, size=size, chunk_rows=chunk_rows, scheduler=scheduler)
        X = _sample_rows(images, ef, size)
    else:
        ef.fit(X)
    timings["fit_s"] = time.perf_counter() - t
    summary.update(
        n_images=int(ef.n_samples_),
        image_shape=list(ef.image_shape_),
        n_components=int(ef.n_components_),
        method=method,
        normalize=normalize,
        explained_variance_ratio=ef.explained_variance_ratio_.tolist(),
        explained_variance_total=float(ef.explained_variance_ratio_.sum()),
    )

    with staged_output(out, protect=[images] if images is not None else ()) as stage:
        t = timed("figures")
        save_figure(figures.eigenface_gallery(ef), stage / "eigenfaces.png")
        save_figure(figures.scree_plot(ef), stage / "scree.png")
        face = X[0]
        full = ef if out_of_core else Eigenfaces(n_components=None, method=method, normalize=normalize).fit(X)
        ks = [kk for kk in RECONSTRUCTION_KS if kk <= full.n_components_]
        recon = {kk: full.reconstruct(face, kk)[0] for kk in ks}
        recon[f"all ({full.n_components_})"] = full.reconstruct(face)[0]
        target = full._normalized(full._flatten(face[None], fitting=False))[0].reshape(full.image_shape_)
        save_figure(figures.reconstruction_strip(target, recon), stage / "reconstruction.png")
        save_animation(figures.reconstruction_animation(target, recon), stage / "reconstruction.gif", fps=1)
        curve = compression_curve(ef, X[: min(len(X), 2000)])
        save_figure(figures.compression_plot(curve), stage / "compression.png")
        timings["figures_s"] = time.perf_counter() - t

        t = timed("puzzle")
        puzzle = solve_puzzle(ef, face)
        save_figure(figures.puzzle_bars(puzzle), stage / "puzzle.png")
        summary["puzzle"] = {"coefficients": puzzle.coefficients.tolist(), "relative_error": float(puzzle.errors[-1])}
        timings["puzzle_s"] = time.perf_counter() - t

        t = timed("detection")
        if nonfaces is not None:
            # Held out: fit on faces 0-59, score faces 60-99 against the non-faces.
            held = Eigenfaces(n_components=min(k, 59), method=method, normalize=normalize).fit(X[:60])
            det = detect_faces(held, X[60:], nonfaces)
            save_figure(figures.distance_histogram(det), stage / "distances.png")
            summary["face_detection"] = {
                "split": "fit on faces 0-59; faces 60-99 against the 100 non-faces",
                "roc_auc": det.auc,
                "threshold_95th_percentile_of_faces": det.threshold,
                "nonfaces_inside_threshold": det.nonfaces_inside,
            }
        timings["detection_s"] = time.perf_counter() - t

        tick("write")
        ef.save(stage / "model.npz")
        summary["timings"] = timings
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _sample_rows(images, ef: Eigenfaces, size) -> np.ndarray:
    """A few images to draw, read without loading the whole source."""
    path = Path(images)
    if path.suffix.lower() == ".npy":
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        rows = np.asarray(arr[: min(len(arr), 256)], dtype=np.float64)
        return rows.reshape((len(rows),) + ef.image_shape_)
    X = load(path, size)
    return X[:256]


def progress_bar(quiet: bool):
    """A rich progress bar over the job's steps, or nothing."""
    if quiet:
        return nullcontext(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn())

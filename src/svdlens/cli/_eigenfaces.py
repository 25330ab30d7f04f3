"""``svdlens eigenfaces``: fit, use and draw, writing everything into one folder atomically."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .._atomic import staged_output
from .._progress import Progress, report
from ..faces import Eigenfaces, builtin, fit_out_of_core, load
from ..faces._study import draw_study, study
from ._main import FORCE, JSON, QUIET, app, emit, fail, handled, out_option, progress_bar, refuse_unused

__all__ = ["eigenfaces_command", "run_eigenfaces", "JOB_STEPS"]

JOB_STEPS = ("load", "fit", "figures and uses", "write")


def run_eigenfaces(
    out: str | Path,
    images: str | Path | None = None,
    *,
    size: int | tuple[int, int] | None = None,
    k: int = 20,
    method: str = "auto",
    normalize: str | None = "standardize",
    out_of_core: bool = False,
    chunk_rows: int = 4096,
    scheduler: str | None = None,
    progress: Progress = None,
    force: bool = False,
    scheduler_timeout: float = 10.0,
) -> dict:
    """Fit eigenfaces to the built-in faces (or ``images``) and write figures, model and summary to ``out``.

    Nothing is left half-written in ``out`` if a step fails.

    Parameters
    ----------
    out : str or pathlib.Path
        The output folder: the study's figures, ``model.npz`` and ``summary.json``.
    images : str or pathlib.Path, optional
        A folder of images or a ``.npy``/``.npz`` file (default: the built-in faces, with
        face detection measured against the built-in non-faces).
    size : int or (int, int), optional
        Resize and centre-crop every image to this size.
    k : int
        How many eigenfaces.
    method : str
        The :class:`svdlens.Eigenfaces` method.
    normalize : {"standardize", None}
        The :class:`svdlens.Eigenfaces` per-image normalisation.
    out_of_core : bool
        Fit with dask, reading ``images`` (a ``.npy`` or a folder) a block at a time.
    chunk_rows : int
        Rows per block when out of core.
    scheduler : str, optional
        A ``dask.distributed`` scheduler's address, when out of core.
    progress : callable, optional
        ``progress(done, total, label)`` after each of :data:`JOB_STEPS`.
    force : bool
        Replace files in ``out`` that svdlens did not write.
    scheduler_timeout : float
        Seconds to wait for ``scheduler``.

    Returns
    -------
    dict
        The summary written to ``summary.json``: the source, image count and shape, the
        explained variance, the puzzle's coefficients and error, face detection (built-in
        faces only), skipped files and timings.

    Raises
    ------
    SvdlensError
        Unreadable images, bad parameters, or an output folder in the way (every svdlens error).
    """
    timings: dict[str, float] = {}
    summary: dict = {"source": "built-in faces (scikit-image lfw_subset)" if images is None else str(images)}
    clock = time.perf_counter()

    def step(i: int, key: str | None = None) -> None:
        nonlocal clock
        now = time.perf_counter()
        if key:
            timings[key] = now - clock
        clock = now
        report(progress, i, len(JOB_STEPS), JOB_STEPS[i] if i < len(JOB_STEPS) else "done")

    step(0)
    nonfaces = None
    if images is None:
        X, nonfaces = builtin("faces"), builtin("nonfaces")
    elif not out_of_core:
        X, loaded = load(images, size, return_report=True)
        summary["skipped"] = loaded.skipped
    step(1, "load_s")
    model = None
    if out_of_core:
        model = Eigenfaces(n_components=k, method=method, normalize=normalize)
        fit_out_of_core(  # out_of_core comes with images
            model,
            images,  # type: ignore[arg-type]
            size=size,
            chunk_rows=4096 if chunk_rows is None else chunk_rows,
            scheduler=scheduler,
            timeout=scheduler_timeout,
        )
        X = _sample_rows(images, model, size)
    result = study(X, k=k, method=method, normalize=normalize, nonfaces=nonfaces, model=model)
    ef = result.model
    step(2, "fit_s")
    summary.update(
        n_images=int(ef.n_samples_),
        image_shape=list(ef.image_shape_),
        n_components=int(ef.n_components_),
        method=method,
        normalize=normalize,
        explained_variance_ratio=ef.explained_variance_ratio_.tolist(),
        explained_variance_total=float(ef.explained_variance_ratio_.sum()),
        puzzle={"coefficients": result.puzzle.coefficients.tolist(), "relative_error": float(result.puzzle.errors[-1])},
    )
    if result.detection is not None:
        det = result.detection
        summary["face_detection"] = {
            "split": result.detection_split,
            "roc_auc": det.auc,
            "threshold_95th_percentile_of_faces": det.threshold,
            "nonfaces_inside_threshold": det.nonfaces_inside,
        }
    with staged_output(out, protect=[images] if images is not None else (), force=force) as stage:
        draw_study(result, stage)
        step(3, "figures_s")
        ef.save(stage / "model.npz")
        summary["timings"] = timings
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    step(4)
    return summary


def _sample_rows(images, ef: Eigenfaces, size) -> np.ndarray:
    """A few images to draw, read without loading the whole source."""
    from ..linalg._io import read_npy

    path = Path(images)
    if path.suffix.lower() == ".npy":
        arr = read_npy(path, mmap=True)
        rows = np.asarray(arr[: min(len(arr), 256)], dtype=np.float64)
        return rows.reshape((len(rows),) + ef.image_shape_)
    return load(path, size)[:256]


def _parse_size(size: str | None) -> tuple[int, int] | None:
    if not size:
        return None
    try:
        parts = [int(p) for p in size.lower().replace("×", "x").split("x")]
        if len(parts) not in (1, 2):
            raise ValueError
    except ValueError:
        fail(f"--size must look like 64 or 64x48; got {size!r}")
    return (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])


@app.command("eigenfaces")
def eigenfaces_command(
    images: Optional[str] = typer.Option(
        None, "--images", help="A folder of images or a .npy/.npz file (default: the built-in faces)."
    ),
    k: int = typer.Option(20, "--k", "-k", help="Number of eigenfaces."),
    out: str = out_option("out/eigenfaces", help="Folder to write figures, model.npz and summary.json to."),
    size: Optional[str] = typer.Option(
        None, "--size", help='Resize and centre-crop images to this size: "64" or "64x48".'
    ),
    method: Optional[str] = typer.Option(None, "--method", help="auto (the default), exact, gram, krylov or subspace."),
    raw: bool = typer.Option(False, "--raw", help="Plain PCA: no per-image standardisation."),
    out_of_core: bool = typer.Option(
        False, "--out-of-core", help="Read the images block by block with dask (data larger than memory)."
    ),
    chunk_rows: Optional[int] = typer.Option(
        None, "--chunk-rows", help="Images per block with --out-of-core (default 4096)."
    ),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", help="Address of a dask.distributed scheduler (with --out-of-core)."
    ),
    scheduler_timeout: Optional[float] = typer.Option(
        None, "--scheduler-timeout", help="Seconds to wait for --scheduler (default 10)."
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Eigenfaces: mean face, eigenfaces, the puzzle, face detection and compression, as figures and numbers.

    Writes eigenfaces.png, scree.png, reconstruction.png/.gif, puzzle.png, compression.png,
    distances.png (built-in faces), model.npz (load it with svdlens.Eigenfaces.load) and summary.json.

    Examples:

        svdlens eigenfaces --out out/eigenfaces

        svdlens eigenfaces --images my_faces/ --size 64 -k 30 --out out/mine

        svdlens eigenfaces --images big.npy --out-of-core -k 50 --out out/big
    """
    refuse_unused(
        ("--chunk-rows", chunk_rows, not out_of_core, "goes with --out-of-core (images per block read)"),
        (
            "--scheduler",
            scheduler,
            not out_of_core,
            "goes with --out-of-core (the dask cluster that reads the blocks)",
        ),
        (
            "--scheduler-timeout",
            scheduler_timeout,
            scheduler is None,
            "bounds the wait for --scheduler; give that too",
        ),
        (
            "--method",
            method,
            out_of_core,
            "has no effect with --out-of-core, which runs subspace iteration over the blocks",
        ),
    )
    parsed_size = _parse_size(size)
    if out_of_core and images is None:
        fail("--out-of-core needs --images (a .npy file or a folder of images)")
    with handled(), progress_bar(quiet or as_json, "eigenfaces") as bar:
        summary = run_eigenfaces(
            out,
            images,
            size=parsed_size,
            k=k,
            method=method or "auto",
            normalize=None if raw else "standardize",
            out_of_core=out_of_core,
            chunk_rows=4096 if chunk_rows is None else chunk_rows,
            scheduler=scheduler,
            progress=bar,
            force=force,
            scheduler_timeout=10.0 if scheduler_timeout is None else scheduler_timeout,
        )
    text = [
        f"{summary['n_images']} images of {'×'.join(map(str, summary['image_shape']))}: "
        f"{summary['n_components']} eigenfaces explain {summary['explained_variance_total']:.1%} of the variance"
    ]
    if "face_detection" in summary:
        text.append(f"face vs non-face ROC AUC (held out): {summary['face_detection']['roc_auc']:.3f}")
    text += [f"skipped {name}: {why}" for name, why in summary.get("skipped", {}).items()]
    text.append(f"wrote {out}/")
    emit(summary, as_json=as_json, text=text)

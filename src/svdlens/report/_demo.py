"""``svdlens demo``: the whole story of the seeds on built-in data, in the script's order.

Each step is a small function that computes with the library, draws what it computed into the
staged report folder, and returns a :class:`Section` (title, the script's line, the numbers,
the files). :func:`run_demo` runs them in order and writes ``index.html`` with
:mod:`svdlens.report.html`. Local bases are cached under ``cache_dir``, so a second run
skips the Jacobian SVDs.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict
from pathlib import Path

from .._atomic import staged_output
from .._progress import Progress, report
from ._context import DemoSettings, Section, _Context
from ._sections_faces import eigenfaces_section, faded_face_section
from ._sections_math import (
    change_of_basis_section,
    covariance_section,
    eigenvectors_section,
    inputs_with_inputs_section,
    least_squares_section,
    low_rank_section,
    projection_section,
    rotate_scale_rotate_section,
    superposition_section,
    u_from_v_section,
)
from ._sections_model import (
    edits_section,
    evolution_section,
    generated_section,
    jacobian_section,
    transport_section,
    weight_matrix_section,
)

__all__ = ["Section", "DemoSettings", "SECTIONS", "run_demo"]


SECTIONS = (
    projection_section,
    change_of_basis_section,
    covariance_section,
    superposition_section,
    inputs_with_inputs_section,
    eigenvectors_section,
    rotate_scale_rotate_section,
    u_from_v_section,
    low_rank_section,
    least_squares_section,
    eigenfaces_section,
    faded_face_section,
    weight_matrix_section,
    jacobian_section,
    edits_section,
    transport_section,
    generated_section,
    evolution_section,
)
"""The report's sections in the script's order; each computes, draws and returns a :class:`Section`."""


# Which section shows each Manim scene of ``svdlens.video``.
VIDEO_SECTIONS = {
    "projection": projection_section,
    "inputs-with-inputs": inputs_with_inputs_section,
    "eigenvectors": eigenvectors_section,
    "rotate-scale-rotate": rotate_scale_rotate_section,
    "u-from-v": u_from_v_section,
    "puzzle": eigenfaces_section,
    "jacobian-directions": edits_section,
    "generated-image": generated_section,
}


def _add_videos(stage: Path, sections: list[Section]) -> None:
    """Render the video scenes into ``stage/video`` and link each from its section."""
    from ..video import render as render_video

    by_function = {make.__name__: section for make, section in zip(SECTIONS, sections)}
    paths = render_video(list(VIDEO_SECTIONS), out=stage / "video", quality="low")
    for name, path in zip(VIDEO_SECTIONS, paths):
        by_function[VIDEO_SECTIONS[name].__name__].files.append(f"video/{path.name}")


def run_demo(
    out: str | Path,
    *,
    fast: bool = False,
    settings: DemoSettings | None = None,
    cache_dir: str | Path | None = None,
    model: str = "builtin",
    progress: Progress = None,
    force: bool = False,
    video: bool = False,
) -> dict:
    """Run every step and write ``out/index.html`` with its figures, plus ``summary.json``.

    Nothing but the cache is written to ``out`` unless every step succeeds.

    Parameters
    ----------
    out : str or pathlib.Path
        The report folder: ``index.html``, the figures it links and ``summary.json``.
    fast : bool
        Use :meth:`DemoSettings.fast`, a reduced setting for tests and quick looks (ignored
        when ``settings`` is given).
    settings : DemoSettings, optional
        How much work each step does (default: ``DemoSettings()``).
    cache_dir : str or pathlib.Path, optional
        Where the local bases are kept between runs (default: ``out/cache``).
    model : str
        The diffusion model, as :func:`svdlens.diffusion.load` takes it.
    progress : callable, optional
        ``progress(done, total, title)``, called as each section starts and at the end.
    force : bool
        Replace files in ``out`` that svdlens did not write.
    video : bool
        Also render the Manim scenes (low quality, the ``svdlens[video]`` extra) into
        ``out/video`` and show each MP4 in its section.

    Returns
    -------
    dict
        The summary written to ``summary.json``: the settings, seconds, the model, and for
        each section its key, title, seconds, lines and files.

    Raises
    ------
    ModelLoadError
        The model cannot be loaded; this is checked before any work.
    OutputError
        ``out`` is a file, or holds files svdlens did not write (without ``force``).
    """
    from ..exceptions import InputNote
    from ._html import render

    settings = settings or (DemoSettings.fast() if fast else DemoSettings())
    out = Path(out)
    cache_dir = Path(cache_dir) if cache_dir is not None else out / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sections = []
    with staged_output(out, force=force) as stage, warnings.catch_warnings():
        warnings.simplefilter("ignore", InputNote)  # start images resized to the model's size are expected here
        ctx = _Context(stage, settings, cache_dir, model)
        _ = ctx.pipe  # a model that cannot load fails here, before any work
        for i, make_section in enumerate(SECTIONS):
            report(progress, i, len(SECTIONS), make_section.__name__.removesuffix("_section").replace("_", " "))
            ctx.key = f"{i + 1:02d}"
            t0 = time.perf_counter()
            section = make_section(ctx)
            section.seconds = time.perf_counter() - t0
            sections.append(section)
        if video:
            report(progress, len(SECTIONS) - 1, len(SECTIONS), "video scenes (Manim)")
            _add_videos(stage, sections)
        seconds = time.perf_counter() - start
        summary = {
            "settings": asdict(settings),
            "seconds": seconds,
            "model": model,
            "sections": [
                {"key": s.key, "title": s.title, "seconds": s.seconds, "lines": s.lines, "files": s.files}
                for s in sections
            ],
        }
        (stage / "index.html").write_text(render(sections, summary))
        (stage / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    report(progress, len(SECTIONS), len(SECTIONS), "done")
    return summary

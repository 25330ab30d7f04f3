"""``svdlens video``: the script's scenes as MP4 video, rendered with Manim."""

from __future__ import annotations

import time
from typing import Optional

import typer

from ..exceptions import SvdlensError
from ..linalg import read_matrix
from ._main import FORCE, JSON, QUIET, app, emit, fail, handled, out_option, progress_bar, refuse_unused

__all__ = ["video_command"]


@app.command("video")
def video_command(
    out: Optional[str] = out_option(None, help="Folder for the MP4s, one per scene (default out/video)."),
    scene: Optional[list[str]] = typer.Option(
        None, "--scene", help="Only this scene (repeatable); default all, in the script's order. See --list."
    ),
    quality: Optional[str] = typer.Option(
        None, "--quality", help="low (480p15, the default), medium (720p30) or high (1080p60)."
    ),
    matrix: Optional[str] = typer.Option(
        None,
        "--matrix",
        help='The matrix scenes\' 2×2 matrix as text ("0.4 0.2; 1 3") or a .npy/.csv/... file. Singular '
        "and ill-conditioned ones are drawn too (σ₂ = 0 flattens the plane onto a line); the largest entry "
        "must be between 1e-06 and 1000 in size.",
    ),
    list_scenes: bool = typer.Option(False, "--list", help="List the scenes and what each shows, then stop."),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """The script's scenes as MP4 video (Manim Community Edition), one file per scene.

    Projection, WᵀW, eigenvectors, rotate-scale-rotate and u = Av/σ for a 2×2 matrix (default the
    script's [[0.4, 0.2], [1, 3]]); the eigenface puzzle; the Jacobian's directions and the
    generated image from the built-in DDPM. Needs the video extra: pip install "svdlens\\[video]".

    Examples:

        svdlens video --out out/video

        svdlens video --scene rotate-scale-rotate --matrix "2 1; 1 3" --quality high --out out/video

        svdlens video --list
    """
    with handled():
        from ..video import MATRIX_SCENES, SCENES, render  # no Manim: an error naming the extra
        from ..video._check import check_matrix
        from ..video._render import check_quality, scene_name

        refuse_unused(
            *(
                (flag, value, list_scenes, "has no effect with --list, which only lists the scenes")
                for flag, value in (
                    ("--out", out),
                    ("--scene", scene),
                    ("--quality", quality),
                    ("--matrix", matrix),
                    ("--force", force),
                )
            )  # fmt: skip
        )
        if list_scenes:
            lines = [f"{name:22s} {(cls.__doc__ or '').strip().splitlines()[0]}" for name, cls in SCENES.items()]
            emit({"scenes": list(SCENES)}, as_json=as_json, text=lines)
            return
        # Every flag is checked before any rendering, and its error names it.
        names = None
        try:
            names = [scene_name(name) for name in scene] if scene else None
        except SvdlensError as err:
            fail(f"--scene: {err}")
        quality = quality or "low"
        out = out or "out/video"
        try:
            check_quality(quality)
        except SvdlensError as err:
            fail(f"--quality: {err}")
        A = None
        if matrix is not None:
            try:
                A = check_matrix(read_matrix(matrix))  # a singular matrix is drawn; a zero one is refused
            except SvdlensError as err:
                fail(f"--matrix: {err}")
            if names is not None and not MATRIX_SCENES.intersection(names):
                fail(
                    f"--matrix is drawn by the matrix scenes ({', '.join(s for s in SCENES if s in MATRIX_SCENES)}); "
                    "add one with --scene, or leave out --matrix"
                )
        start = time.perf_counter()
        with progress_bar(quiet or as_json, "video") as bar:
            paths = render(names, out=out, quality=quality, matrix=A, progress=bar, force=force)
    seconds = time.perf_counter() - start
    emit(
        {"files": [str(p) for p in paths], "quality": quality, "seconds": seconds},
        as_json=as_json,
        text=[f"{len(paths)} scenes in {seconds:.0f} s, written to {out}/:"] + [f"  {p.name}" for p in paths],
    )

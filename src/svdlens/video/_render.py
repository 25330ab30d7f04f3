"""Render the scenes to MP4: qualities, the scene registry, and whole-or-nothing output.

Manim writes everything it makes (the movie, partial movie files, the text cache) under its
``media_dir``. Here that is a temporary folder set with Manim's ``tempconfig``, so nothing of
Manim's lands in the output folder; the finished MP4s are gathered in a staging folder beside
the output and moved in only when every scene has rendered.

Manim's configuration is one global object, so renders must not run in parallel threads of
one process.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from manim import Scene, tempconfig

from .._atomic import check_destinations, staged_output
from ..exceptions import InvalidParameterError, OutputError
from ._check import check_matrix
from ._eigenvectors import EigenvectorsScene
from ._generated_image import GeneratedImageScene
from ._inputs_with_inputs import InputsWithInputsScene
from ._jacobian_directions import JacobianDirectionsScene
from ._projection import ProjectionScene
from ._puzzle import PuzzleScene
from ._rotate_scale_rotate import RotateScaleRotateScene
from ._u_from_v import UFromVScene


@dataclass(frozen=True)
class Quality:
    """A Manim render quality: frame size and rate."""

    name: str
    width: int
    height: int
    fps: int


QUALITIES: dict[str, Quality] = {
    "low": Quality("low", 854, 480, 15),
    "medium": Quality("medium", 1280, 720, 30),
    "high": Quality("high", 1920, 1080, 60),
}
"""``low`` (480p15) for previews and tests, ``medium`` (720p30), ``high`` (1080p60) for the video."""

SCENES: dict[str, type[Scene]] = {
    "projection": ProjectionScene,
    "inputs-with-inputs": InputsWithInputsScene,
    "eigenvectors": EigenvectorsScene,
    "rotate-scale-rotate": RotateScaleRotateScene,
    "u-from-v": UFromVScene,
    "puzzle": PuzzleScene,
    "jacobian-directions": JacobianDirectionsScene,
    "generated-image": GeneratedImageScene,
}
"""Every scene, by name, in the script's order."""

"""The output folder's record of the files svdlens wrote there (the same file every command keeps)."""

MATRIX_SCENES = frozenset({"projection", "inputs-with-inputs", "eigenvectors", "rotate-scale-rotate", "u-from-v"})
"""The scenes that draw a 2×2 matrix (they take ``matrix``)."""


@dataclass
class Rendered:
    """One rendered scene: its name, the MP4, the scene object (its mobjects in their final
    state) and the wall time of the render in seconds."""

    name: str
    path: Path
    scene: Scene
    seconds: float


def _key(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower()).removesuffix("scene")


def scene_name(name: str) -> str:
    """The registry name of a scene given as ``rotate-scale-rotate``, ``rotate_scale_rotate`` or
    ``RotateScaleRotateScene``.

    Raises
    ------
    InvalidParameterError
        No scene has that name; the message lists them.
    """
    if isinstance(name, str):
        wanted = _key(name)
        for registered, cls in SCENES.items():
            if wanted in (_key(registered), _key(cls.__name__)):
                return registered
    raise InvalidParameterError(f"unknown scene {name!r}; the scenes are: {', '.join(SCENES)}")


def scene_class(name: str) -> type[Scene]:
    """The Scene class of a scene name (see :func:`scene_name`)."""
    return SCENES[scene_name(name)]


def check_quality(q: str | Quality) -> Quality:
    """The :class:`Quality` named ``low``, ``medium`` or ``high`` (also ``480p``, ``720p``, ``1080p``)."""
    if isinstance(q, Quality):
        return q
    aliases = {"480p": "low", "720p": "medium", "1080p": "high", "l": "low", "m": "medium", "h": "high"}
    key = aliases.get(str(q).lower(), str(q).lower()) if isinstance(q, str) else None
    if key not in QUALITIES:
        raise InvalidParameterError(
            f"unknown quality {q!r}; choose one of: low (480p15), medium (720p30), high (1080p60)"
        )
    return QUALITIES[key]


def file_name(name: str) -> str:
    """The MP4's file name: the scene's place in the script, then its name (``04-rotate-scale-rotate.mp4``)."""
    name = scene_name(name)
    return f"{list(SCENES).index(name) + 1:02d}-{name}.mp4"


def _manim_config(q: Quality, media_dir: Path) -> dict:
    return {
        "media_dir": str(media_dir),
        "pixel_width": q.width,
        "pixel_height": q.height,
        "frame_rate": q.fps,
        "disable_caching": True,  # Manim's cache hashes every mobject; the scenes are rendered once
        "write_to_movie": True,
        "format": "mp4",
        "save_last_frame": False,
        "preview": False,
        "show_in_file_browser": False,
        "progress_bar": "none",
        "verbosity": "ERROR",
        "log_to_file": False,
        "renderer": "cairo",
    }


def render_scene(
    name: str,
    folder: str | os.PathLike,
    quality: str | Quality = "low",
    *,
    matrix=None,
    media_dir: str | os.PathLike | None = None,
    **options,
) -> Rendered:
    """Render one scene into ``folder`` and return it with its scene object.

    Parameters
    ----------
    name : str
        A scene name (see :data:`SCENES`).
    folder : path
        Where the MP4 goes (created if missing); its name is :func:`file_name`.
    quality : {"low", "medium", "high"}
        480p at 15 fps, 720p at 30 fps or 1080p at 60 fps.
    matrix : array-like (2, 2), optional
        For the matrix scenes (:data:`MATRIX_SCENES`); default the script's ``[[0.4, 0.2], [1, 3]]``.
    media_dir : path, optional
        Manim's working folder (its partial movies and text cache); default a temporary folder
        removed afterwards.
    **options
        Passed to the scene's constructor (e.g. ``k=8`` for the puzzle).

    Returns
    -------
    Rendered
        The MP4's path, and the scene whose mobjects are in their final state (test hooks).
    """
    name = scene_name(name)
    q = check_quality(quality)
    if matrix is not None:
        if name not in MATRIX_SCENES:
            raise InvalidParameterError(
                f"the scene {name!r} takes no matrix; the matrix scenes are {', '.join(sorted(MATRIX_SCENES))}"
            )
        options["matrix"] = matrix
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    own_media = media_dir is None
    media = Path(tempfile.mkdtemp(prefix="svdlens-manim-")) if media_dir is None else Path(media_dir)
    try:
        start = time.perf_counter()
        with tempconfig(_manim_config(q, media)):
            scene = SCENES[name](**options)
            scene.render()
            movie = Path(scene.renderer.file_writer.movie_file_path)
        seconds = time.perf_counter() - start
        dest = folder / file_name(name)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".svdlens-", suffix=".mp4")
        os.close(fd)
        try:
            shutil.copyfile(movie, tmp)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a new file gets what the umask gives
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    finally:
        if own_media:
            shutil.rmtree(media, ignore_errors=True)
    return Rendered(name, dest, scene, seconds)


def render(
    names: Iterable[str] | str | None = None,
    out: str | os.PathLike = ".",
    quality: str = "low",
    matrix=None,
    progress: Callable[[int, int, str], object] | None = None,
    *,
    force: bool = False,
) -> list[Path]:
    """Render the script's scenes to MP4 files in ``out``, whole or nothing.

    Every argument, and every destination in ``out``, is checked before any rendering. The
    scenes render one after another into a staging folder beside ``out``; only when all have
    succeeded are the MP4s moved into ``out`` and recorded in its manifest
    (``.svdlens-manifest.json``, shared with every svdlens output). If one fails, ``out`` is
    left as it was and the error is raised. Manim's own files (partial movies, text cache)
    stay in a temporary folder that is removed.

    Parameters
    ----------
    names : str or iterable of str, optional
        Scene names (see :data:`SCENES`); default all of them, in the script's order.
    out : path
        The output folder (created if missing). Each scene is written as :func:`file_name`.
    quality : {"low", "medium", "high"}
        480p15 (854×480 at 15 fps), 720p30 or 1080p60.
    matrix : array-like (2, 2), optional
        The matrix of the matrix scenes; default the script's ``[[0.4, 0.2], [1, 3]]``.
    progress : callable, optional
        ``progress(done, total, label)``: called with ``done = i`` as the i-th scene (from 0)
        starts, labelled with its name, and with ``done = total`` at the end.
    force : bool
        Replace files in ``out`` that svdlens did not write.

    Returns
    -------
    list of Path
        The MP4s in ``out``, one per scene, in the order rendered.

    Raises
    ------
    InvalidParameterError
        An unknown scene name or quality.
    SvdlensError
        A matrix that is not 2×2 (or not finite, or zero).
    OutputError
        ``out`` is a file, or a file svdlens did not write is in the way (without ``force``).

    Examples
    --------
    >>> from svdlens.video import render                                        # doctest: +SKIP
    >>> render(["projection", "u-from-v"], out="out/video", matrix=[[2, 1], [1, 3]])  # doctest: +SKIP
    [PosixPath('out/video/01-projection.mp4'), PosixPath('out/video/05-u-from-v.mp4')]
    """
    if names is None:
        chosen = list(SCENES)
    else:
        chosen = [scene_name(n) for n in ([names] if isinstance(names, str) else list(names))]
        chosen = list(dict.fromkeys(chosen))  # once each, in the order given
        if not chosen:
            raise InvalidParameterError(f"no scene chosen; the scenes are: {', '.join(SCENES)}")
    q = check_quality(quality)
    A = check_matrix(matrix)
    out = Path(out)
    files = [file_name(name) for name in chosen]
    total = len(chosen)
    if out.exists() and not out.is_dir():
        raise OutputError(f"the output folder {out} is a file; give a folder")
    if out.is_dir():
        check_destinations(out, files, (), force)  # before any rendering, not only before the move
    with staged_output(out, force=force) as stage:
        media = Path(tempfile.mkdtemp(prefix="svdlens-manim-"))
        try:
            for i, name in enumerate(chosen):
                if progress is not None:
                    progress(i, total, name)
                render_scene(name, stage, q, matrix=A if name in MATRIX_SCENES else None, media_dir=media)
        finally:
            shutil.rmtree(media, ignore_errors=True)
    if progress is not None:
        progress(total, total, "done")
    return [out / f for f in files]

"""The script on screen: Manim scenes that render the SVD story as MP4 video.

Each scene is a named Manim ``Scene`` subclass in the file its name suggests, in the script's
order. Every scene's numbers come first, from a plain function returning a dataclass (testable
without drawing); the scene only draws them.

============================  =====================================  ====================================
scene name                    class                                  numbers
============================  =====================================  ====================================
``projection``                :class:`ProjectionScene`               :func:`projection_numbers`
``inputs-with-inputs``        :class:`InputsWithInputsScene`         :func:`inputs_with_inputs_numbers`
``eigenvectors``              :class:`EigenvectorsScene`             :func:`eigenvector_numbers`
``rotate-scale-rotate``       :class:`RotateScaleRotateScene`        :func:`rotate_scale_rotate_numbers`
``u-from-v``                  :class:`UFromVScene`                   :func:`u_from_v_numbers`
``puzzle``                    :class:`PuzzleScene`                   :func:`puzzle_numbers`
``jacobian-directions``       :class:`JacobianDirectionsScene`       :func:`jacobian_directions_numbers`
``generated-image``           :class:`GeneratedImageScene`           :func:`generated_image_numbers`
============================  =====================================  ====================================

Manim Community Edition is an optional extra: ``pip install "svdlens[video]"`` (it needs the
cairo and pango system libraries). Importing :mod:`svdlens` never imports Manim; importing
this package without Manim raises :class:`svdlens.exceptions.MissingDependencyError`, an
``ImportError``.

Examples
--------
>>> from svdlens.video import render                                   # doctest: +SKIP
>>> render(["rotate-scale-rotate"], out="out/video", quality="low")    # doctest: +SKIP
[PosixPath('out/video/04-rotate-scale-rotate.mp4')]
"""

from __future__ import annotations

from ..exceptions import MissingDependencyError

try:
    import manim  # noqa: F401  (the optional extra; imported here first, so a missing one is named)
except ImportError as err:
    raise MissingDependencyError(
        'svdlens.video needs Manim Community Edition: pip install "svdlens[video]" '
        "(it builds against the cairo and pango system libraries: on Debian or Ubuntu, "
        f"apt-get install libcairo2-dev libpango1.0-dev pkg-config). Import failed with: {err}"
    ) from err

from ._check import DEFAULT_MATRIX
from ._eigenvectors import EigenvectorNumbers, EigenvectorsScene, eigenvector_numbers
from ._generated_image import GeneratedImageNumbers, GeneratedImageScene, generated_image_numbers
from ._inputs_with_inputs import InputsWithInputsNumbers, InputsWithInputsScene, inputs_with_inputs_numbers
from ._jacobian_directions import JacobianDirectionsNumbers, JacobianDirectionsScene, jacobian_directions_numbers
from ._projection import ProjectionNumbers, ProjectionScene, projection_numbers
from ._puzzle import PuzzleNumbers, PuzzleScene, puzzle_numbers
from ._render import MATRIX_SCENES, QUALITIES, SCENES, Rendered, file_name, render, render_scene, scene_class
from ._rotate_scale_rotate import RotateScaleRotateNumbers, RotateScaleRotateScene, rotate_scale_rotate_numbers
from ._u_from_v import UFromVNumbers, UFromVScene, u_from_v_numbers

__all__ = [
    "render",
    "render_scene",
    "scene_class",
    "file_name",
    "Rendered",
    "SCENES",
    "MATRIX_SCENES",
    "QUALITIES",
    "DEFAULT_MATRIX",
    "ProjectionScene",
    "projection_numbers",
    "ProjectionNumbers",
    "InputsWithInputsScene",
    "inputs_with_inputs_numbers",
    "InputsWithInputsNumbers",
    "EigenvectorsScene",
    "eigenvector_numbers",
    "EigenvectorNumbers",
    "RotateScaleRotateScene",
    "rotate_scale_rotate_numbers",
    "RotateScaleRotateNumbers",
    "UFromVScene",
    "u_from_v_numbers",
    "UFromVNumbers",
    "PuzzleScene",
    "puzzle_numbers",
    "PuzzleNumbers",
    "JacobianDirectionsScene",
    "jacobian_directions_numbers",
    "JacobianDirectionsNumbers",
    "GeneratedImageScene",
    "generated_image_numbers",
    "GeneratedImageNumbers",
]

"""The registry of scenes: adding a scene happens here, in one place.

Each :class:`SceneSpec` names a scene (its :class:`~svdlens.scenes._scenes.Scene` subclass
gives the name and title), the function that computes its numbers from the input
(:class:`SceneInput`), the functions that draw it, and when its picture fits a matrix. The
order of :data:`SCENES` is the script's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _figures as F
from . import _scenes as S

__all__ = ["SceneInput", "SceneSpec", "SCENES"]


@dataclass(frozen=True)
class SceneInput:
    """What the scenes are computed from: the matrix, the input vector and a picture.

    Attributes
    ----------
    A : numpy.ndarray
        The matrix ``(m, n)``.
    x : numpy.ndarray
        ``(n,)`` the input of the projection scene.
    picture : numpy.ndarray or None
        ``(h, w)`` moved through rotate, scale, rotate; None for the first built-in face.

    Examples
    --------
    >>> import numpy as np
    >>> given = SceneInput(A=np.eye(2), x=np.array([2.0, 1.0]))
    >>> SCENES["projection"].compute(given).y.tolist()
    [2.0, 1.0]
    """

    A: np.ndarray
    x: np.ndarray
    picture: np.ndarray | None = None

    def picture_or_face(self) -> np.ndarray:
        """The picture, or the first built-in face.

        Returns
        -------
        numpy.ndarray
            ``(h, w)`` the picture.
        """
        if self.picture is not None:
            return self.picture
        from ..faces import builtin

        return builtin("faces")[0]


def _always(scene: S.Scene, shape: tuple[int, int]) -> bool:
    return True


@dataclass(frozen=True)
class SceneSpec:
    """One scene: its numbers, its drawings, and the matrix shapes its picture fits.

    Attributes
    ----------
    scene_type : type of Scene
        The scene's dataclass; it gives the name and title.
    compute : callable
        ``compute(given: SceneInput) -> Scene``: the numbers.
    draw : callable or None
        ``draw(scene) -> matplotlib Figure``: the still picture, if any.
    animate : callable or None
        ``animate(scene) -> matplotlib Animation``: the animation (2×2 matrices), if any.
    fits : callable
        ``fits(scene, shape) -> bool``: whether the picture can be drawn for a matrix of that
        shape (default: always).

    Examples
    --------
    >>> SCENES["projection"].name, SCENES["projection"].title
    ('projection', 'Projection: outputs are dot products')
    """

    scene_type: type[S.Scene]
    compute: Callable[[SceneInput], S.Scene]
    draw: Callable[[Any], Any] | None = None
    animate: Callable[[Any], Any] | None = None
    fits: Callable[[Any, tuple[int, int]], bool] = _always

    @property
    def name(self) -> str:
        """The scene's name, as ``explain(only=[...])`` takes it."""
        return self.scene_type.name

    @property
    def title(self) -> str:
        """The scene's title, as its heading shows it."""
        return self.scene_type.title


def _least_squares(given: SceneInput) -> S.Scene:
    m, n = given.A.shape
    if m > n:  # a tall A: fit A x ≈ b for a b just off its column space
        return S.least_squares(given.A, given.A @ given.x + np.eye(m)[0])
    return S.least_squares()


_SPECS = (
    SceneSpec(
        S.ProjectionScene, lambda g: S.projection(g.A, g.x), F.projection, fits=lambda scene, shape: shape[1] in (2, 3)
    ),
    SceneSpec(S.DotProductsScene, lambda g: S.dot_products(), F.dot_products),
    SceneSpec(S.ChangeOfBasisScene, lambda g: S.change_of_basis(), F.change_of_basis),
    SceneSpec(S.InputsWithInputsScene, lambda g: S.inputs_with_inputs(g.A), F.inputs_with_inputs),
    SceneSpec(
        S.EigenvectorsScene,
        lambda g: S.eigenvectors(g.A),
        F.eigenvectors,
        F.eigenvectors_animation,
        fits=lambda scene, shape: shape[1] == 2,
    ),
    SceneSpec(
        S.RotateScaleRotateScene,
        lambda g: S.rotate_scale_rotate(g.A, picture=g.picture_or_face()),
        F.rotate_scale_rotate,
        F.rotate_scale_rotate_animation,
        fits=lambda scene, shape: scene.stages is not None,
    ),
    SceneSpec(
        S.UFromVScene,
        lambda g: S.u_from_v(g.A),
        F.u_from_v,
        fits=lambda scene, shape: 2 <= shape[0] <= 3 and 2 <= shape[1] <= 3,
    ),
    SceneSpec(S.MaxVarianceScene, lambda g: S.max_variance(), F.max_variance),
    SceneSpec(S.LeastSquaresScene, _least_squares, F.least_squares),
    SceneSpec(S.LowRankScene, lambda g: S.low_rank(g.A), F.low_rank),
    SceneSpec(S.SuperpositionScene, lambda g: S.superposition(), F.superposition),
)

SCENES: dict[str, SceneSpec] = {spec.name: spec for spec in _SPECS}
"""Every scene by name, in the script's order."""

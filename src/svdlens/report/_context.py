"""What the demo's sections share: a :class:`Section` record, the settings, and a context of objects made once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._defaults import DEFAULT_K, DEFAULT_STEPS, DEFAULT_T
from .._plotting import save_animation, save_figure

__all__ = ["Section", "DemoSettings", "MATRIX", "VECTOR"]

MATRIX = np.array([[0.4, 0.2], [1.0, 3.0]])  # the script's example: 0.4·2 + 0.2·1 = 1
VECTOR = np.array([2.0, 1.0])


@dataclass
class Section:
    """One scene of the report: what it shows, the numbers, and the files it links.

    Attributes
    ----------
    key : str
        The section's number (``"01"``, ``"02"``, ...); it prefixes the section's files.
    title : str
        The section's heading.
    story : str
        What the section shows, in the script's words.
    lines : list of str
        The numbers, one line each.
    files : list of str
        The files the section links, relative to the report folder.
    seconds : float
        How long the section took.
    """

    key: str
    title: str
    story: str
    lines: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class DemoSettings:
    """How much work each step does. ``fast()`` is a reduced setting for tests and quick looks.

    Attributes
    ----------
    steps : int
        DDIM steps.
    k : int
        Local basis size.
    t : float
        Where the edits happen.
    t_transport : float
        Where faces share their tangent spaces (see docs/diffusion.md).
    source : int
        The start image to edit: a face of the world's gallery (:func:`svdlens.faces.world.face`)
        on the face-world model, else a built-in real face.
    targets : tuple of int
        The start images the direction is carried to.
    n_directions : int
        How many directions are edited along.
    strengths : tuple of float
        Edit strengths; ‖x_t‖ ≈ 64 for 64×64 images (32 for 32×32), so these are visible and still faces.
    transport_strengths : tuple of float
        Strengths of the transported edits (at larger t the same step moves more).
    n_samples : int
        How many generated samples are shown.
    sample_eta : float
        The eta of those samples' DDIM steps: 1 (DDPM's ancestral steps, fresh noise at each)
        leaves the built-in model's samples with far less of the residual grain that eta = 0
        leaves, and closer to the world (docs/diffusion.md).
    seed : int
        Seed of the generated face of the last scene (on a model other than the face world's).
    story_strengths : tuple of float
        On the face world: the steps tried along the carried expression direction, from the
        scary face towards the friendly puppet.
    evolution_ts : tuple of float
        The t's of the last section, where the local basis is followed as the noise dissolves.
    evolution_faces : int
        Start faces per model in that section (its homogeneity and the distances between models).
    evolution_k : int
        Directions per basis in that section (fewer than ``k``: it takes a basis per face, t and model).

    Examples
    --------
    >>> DemoSettings.fast().steps, DemoSettings().steps
    (10, 50)
    """

    steps: int = DEFAULT_STEPS
    k: int = DEFAULT_K
    t: float = DEFAULT_T
    t_transport: float = 0.9
    source: int = 3
    targets: tuple = (10, 20, 30)
    n_directions: int = 3
    strengths: tuple = (-8.0, -4.0, 0.0, 4.0, 8.0)
    transport_strengths: tuple = (-4.0, -2.0, 0.0, 2.0, 4.0)
    n_samples: int = 16
    sample_eta: float = 1.0
    seed: int = 7
    story_strengths: tuple = (2.0, 4.0, 8.0, 12.0)
    evolution_ts: tuple = (0.9, 0.7, 0.5, 0.3, 0.1)
    evolution_faces: int = 3
    evolution_k: int = 5

    @classmethod
    def fast(cls) -> DemoSettings:
        """The reduced setting: 10 steps, k = 4, one target, 2 directions, 3 strengths, 4 samples, 2 t's of 2 faces.

        Returns
        -------
        DemoSettings
            The reduced settings.
        """
        return cls(
            steps=10,
            k=4,
            targets=(10,),
            n_directions=2,
            strengths=(-8.0, 0.0, 8.0),
            transport_strengths=(-4.0, 0.0, 4.0),
            n_samples=4,
            story_strengths=(4.0, 8.0),
            evolution_ts=(0.8, 0.4),
            evolution_faces=2,
            evolution_k=4,
        )


def model_name(model: str) -> str:
    """How the text names a model: a built-in DDPM, or the folder or hub id it ran on."""
    names = {"builtin": "the built-in face-world DDPM", "builtin-lfw": "the built-in real-face DDPM"}
    return names.get(model, f"the model {Path(model).name or model}")


class _Context:
    """What the steps share: the staged folder, the settings, and objects made once."""

    def __init__(self, stage: Path, settings: DemoSettings, cache_dir: Path, model: str):
        self.stage, self.settings, self.cache_dir, self.model = stage, settings, cache_dir, model
        self.key = "00"  # the running section's number, set by run_demo: it prefixes the section's files
        self._memo: dict = {}

    def once(self, name, make):
        if name not in self._memo:
            self._memo[name] = make()
        return self._memo[name]

    @property
    def explanation(self):
        from ..scenes import explain

        return self.once("explanation", lambda: explain(MATRIX, vector=VECTOR))

    @property
    def pipe(self):
        from ..diffusion import load_cached

        return self.once("pipe", lambda: load_cached(self.model))

    @property
    def model_name(self) -> str:
        """How the text names the model: a built-in DDPM, or the folder or hub id it ran on."""
        return model_name(self.model)

    @property
    def world(self) -> bool:
        """Whether the model is the face world's (the built-in one): its images' factors are known."""
        return self.model == "builtin"

    def face_name(self, index) -> str:
        """How the text names a start image: a face of the world's gallery, or a built-in real face."""
        return f"world face {index}" if self.world else f"face {index}"

    def start_image(self, index) -> np.ndarray:
        """Start image ``index``: the face world's gallery (or a named face) for its model, else the real faces."""
        from ..diffusion import start_face

        return start_face(self.model, index)

    def basis(self, name, xt, t, k):
        return self.once(("basis", name, t, k), lambda: self.pipe.directions(xt=xt, t=t, k=k, cache_dir=self.cache_dir))

    def xt(self, face_index, t):
        s = self.settings
        return self.once(
            ("xt", face_index, t), lambda: self.pipe.start_point(self.start_image(face_index), t=t, steps=s.steps).xt
        )

    def effects(self, name, xt, t, basis):
        """What each direction of ``basis`` moves on the face world (the oracle reads the ±γ edits)."""
        return self.once(
            ("effects", name, t),
            lambda: self.pipe.factor_effects(basis.v, xt=xt, t=t, steps=self.settings.steps),
        )

    def save(self, fig, name) -> str:
        save_figure(fig, self.stage / name)
        return name

    def animate(self, anim, name, fps) -> str:
        save_animation(anim, self.stage / name, fps=fps)
        return name

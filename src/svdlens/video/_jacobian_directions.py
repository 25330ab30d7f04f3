"""Scene 7, the Jacobian's directions: a face edited along v₁, v₂, v₃ of the built-in DDPM's Jacobian."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from manim import FadeIn, LaggedStart, Scene, SurroundingRectangle, Write

import svdlens as sl

from .._threads import one_torch_thread
from ..exceptions import InvalidParameterError
from ._check import MAX_STRENGTHS, check_count, check_fraction
from ._diffusion import builtin_pipeline, library_default, resize_notes_silenced
from ._draw import GREY, HIGHLIGHT, PAIR_COLORS, WHITE, caption, fmt, frame_box, image, text, title, to_rgba

N_DIRECTIONS = 3
"""The scene shows the Jacobian's top three directions, v₁, v₂ and v₃."""

LABEL_WIDTH = 1.45
"""The widest a direction's factor label may be (scene units): it stays left of the direction's image."""

DEFAULT_STRENGTHS = (-8.0, -4.0, 0.0, 4.0, 8.0)
"""The sweep: x_t + γ·vᵢ for these γ (vᵢ has unit length; ‖x_t‖ ≈ 64 for the built-in 64×64
face-world model, 32 for the 32×32 real-face one, so these are visible edits that are still
faces; the demo report uses the same)."""


@dataclass(frozen=True)
class JacobianDirectionsNumbers:
    """The numbers of the Jacobian-directions scene.

    Attributes
    ----------
    index : which face of the face world's gallery (:func:`svdlens.faces.world.face`).
    t, steps : where the edits happen (fraction of the diffusion) and the DDIM steps.
    face : (h, w) the face as stored, in [0, 1].
    sigmas : (3,) the top singular values of the Jacobian of x_t ↦ h (the mid-block output).
    directions : (3, H, W) v₁, v₂, v₃ in the model's image space (unit length).
    strengths : (s,) the sweep's γ.
    edits : (3, s, H, W) ``pipe.edit(face, vᵢ, strengths)``: x_t + γ·vᵢ denoised to an image, in [0, 1].
    factors, purities : (3,) what each direction means: the face-world factor it moves most and
        that factor's share of the change (``pipe.factor_effects``, read by the oracle).
    """

    index: int
    t: float
    steps: int
    face: np.ndarray
    sigmas: np.ndarray
    directions: np.ndarray
    strengths: np.ndarray
    edits: np.ndarray
    factors: tuple[str, ...]
    purities: np.ndarray


def jacobian_directions_numbers(
    index: int = 0, t: float | None = None, steps: int | None = None, strengths=DEFAULT_STRENGTHS
) -> JacobianDirectionsNumbers:
    """The edit sweeps along the Jacobian's top three directions, from the built-in DDPM.

    The local basis is ``pipe.directions(face, t=t, k=3)`` (Park et al. 2023: the SVD of the
    Jacobian of x_t ↦ h, reached through JVP/VJP only); each edit is
    ``pipe.edit(face, vᵢ, strengths, t=t, steps=steps)``.

    Parameters
    ----------
    index : int
        Which face of the face world's gallery, the built-in model's own world.
    t, steps : optional
        Default the library's (those of ``pipe.edit``).
    strengths : sequence of float
        The sweep, at most :data:`~svdlens.video._check.MAX_STRENGTHS` values.
    """
    pipe = builtin_pipeline()
    index = check_count("index", index, 0, sl.faces.world.MAX_GALLERY - 1)
    t = check_fraction("t", library_default(pipe.edit, "t") if t is None else t)
    steps = library_default(pipe.edit, "steps") if steps is None else steps
    steps = check_count("steps", steps, 1, 1000)
    strengths = np.asarray(strengths, dtype=float).reshape(-1)
    check_count("the number of strengths", len(strengths), 1, MAX_STRENGTHS)
    if not np.isfinite(strengths).all():
        raise InvalidParameterError(f"strengths must be finite numbers; got {strengths.tolist()}")
    face = sl.faces.world.face(index)
    with resize_notes_silenced(), one_torch_thread():
        basis = pipe.directions(face, t=t, k=N_DIRECTIONS, steps=steps)
        edits = np.stack(
            [pipe.edit(face, basis.v[i], strengths=list(strengths), t=t, steps=steps) for i in range(N_DIRECTIONS)]
        )
        effects = pipe.factor_effects(basis.v, face, t=t, steps=steps)
    v = basis.v.detach().cpu().numpy() if hasattr(basis.v, "detach") else np.asarray(basis.v)
    s = basis.s.detach().cpu().numpy() if hasattr(basis.s, "detach") else np.asarray(basis.s)
    size = edits.shape[-1]
    directions = v.reshape(N_DIRECTIONS, -1, size, size)
    directions = directions[:, 0] if directions.shape[1] == 1 else directions
    return JacobianDirectionsNumbers(
        index,
        t,
        steps,
        np.asarray(face),
        s.astype(float),
        directions,
        strengths,
        edits,
        tuple(effects.factor),
        np.asarray(effects.purity, dtype=float),
    )


class JacobianDirectionsScene(Scene):
    """The Jacobian's directions: the edit sweep along v₁, v₂, v₃ (built-in DDPM).

    The script: "She applies her SVD: she gets the right and left squares (JJ), then their
    eigenvectors and values, and puts them in UDV … Now, she finds u in Th (which is v in Tx)"
    and "Each vector is a feeling. Feel the change". For each of the Jacobian's top three
    right singular vectors vᵢ (shown as an image, with σᵢ), the face's x_t is moved by γ·vᵢ
    and generated again, γ sweeping from the most negative strength to the most positive.

    Parameters
    ----------
    index : int
        Which face of the face world's gallery.
    t, steps : optional
        Where the edits happen and the DDIM steps; default the library's.
    strengths : sequence of float
        The sweep.
    """

    def __init__(
        self, index: int = 0, t: float | None = None, steps: int | None = None, strengths=DEFAULT_STRENGTHS, **kwargs
    ):
        self.numbers = jacobian_directions_numbers(index, t, steps, strengths)
        super().__init__(**kwargs)

    def construct(self):
        n = self.numbers
        self.play(Write(title("The Jacobian's directions: xₜ + γ·vᵢ, then generate")), run_time=0.5)
        s = len(n.strengths)
        size = min(1.45, 8.6 / s - 0.2)
        xs = -1.0 + (np.arange(s) - (s - 1) / 2) * (size + 0.2) + 1.6
        ys = [1.55, -0.35, -2.25]
        for k, x in enumerate(xs):
            self.add(text(f"γ = {fmt(n.strengths[k])}", 18, GREY).move_to(np.array([x, ys[0] + size / 2 + 0.3, 0.0])))
        for i in range(N_DIRECTIONS):
            y = ys[i]
            color = PAIR_COLORS[i] if i < 2 else HIGHLIGHT
            name = text(f"v{'₁₂₃'[i]}", 30, color).move_to(np.array([-6.2, y + 0.2, 0.0]))
            sigma = text(f"σ{'₁₂₃'[i]} = {fmt(n.sigmas[i])}", 16, GREY).next_to(name, np.array([0, -1, 0]), buff=0.12)
            meaning = text(f"{n.factors[i].replace('_', ' ')} ({n.purities[i]:.2f})", 14, color)
            if meaning.width > LABEL_WIDTH:  # most factor labels are wider than the room left of the image
                meaning.scale_to_fit_width(LABEL_WIDTH)
            meaning.next_to(sigma, np.array([0, -1, 0]), buff=0.1)
            d = n.directions[i]
            m = max(float(np.abs(d).max()), 1e-12)
            direction = image(to_rgba(d, -m, m), size).move_to(np.array([-4.6, y, 0.0]))
            self.play(
                FadeIn(name),
                FadeIn(sigma),
                FadeIn(meaning),
                FadeIn(direction),
                FadeIn(frame_box(direction, color)),
                run_time=0.35,
            )
            row = [
                image(to_rgba(n.edits[i, k], 0.0, 1.0), size).move_to(np.array([x, y, 0.0])) for k, x in enumerate(xs)
            ]
            sweep = SurroundingRectangle(row[0], color=color, buff=0.04, stroke_width=4)
            self.play(LaggedStart(*[FadeIn(r) for r in row], lag_ratio=0.5), FadeIn(sweep), run_time=1.0)
            self.play(sweep.animate.move_to(row[-1]), run_time=0.6)  # the sweep, γ from lowest to highest
            self.remove(sweep)
            zero = int(np.argmin(np.abs(n.strengths)))
            self.add(SurroundingRectangle(row[zero], color=WHITE, buff=0.03, stroke_width=2))
        self.add(
            text("the face itself at γ = 0", 14, GREY).move_to(
                np.array([xs[int(np.argmin(np.abs(n.strengths)))], ys[-1] - size / 2 - 0.2, 0.0])
            )
        )
        self.play(FadeIn(caption("Each direction is a feeling: feel the change", 24, HIGHLIGHT)), run_time=0.4)
        self.wait(0.5)


__all__ = [
    "JacobianDirectionsNumbers",
    "jacobian_directions_numbers",
    "JacobianDirectionsScene",
    "N_DIRECTIONS",
    "DEFAULT_STRENGTHS",
]

"""What a direction means, measured: the factor change an edit makes, read by the face world's oracle.

A direction v at x_t is applied at ±γ (x_t ± γ·v/‖v‖, denoised to an image) and the oracle
(:func:`svdlens.faces.world.oracle`) reads the factors of both images. Their difference,
divided by 2γ and by each factor's spread over the world, is the direction's *factor change*
per unit strength, comparable across factors. Taking the difference of the two edits (rather
than an edit against the start image) cancels what inversion and denoising alone change.

- The *share* of factor f in a direction's change is ``Δ_f² / Σ_g Δ_g²``: the fraction of the
  change's squared size that falls on f.
- The *purity* of a direction is its largest share, and the factor it belongs to is that one.
- The *size* ``‖Δ‖`` says how much the direction moves factors at all; a direction that moves
  none has a purity that is mostly the oracle's noise.

No published method reports this: real images carry no labels for their factors. On the face
world they are known, so a direction's meaning becomes a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._defaults import DEFAULT_STEPS, DEFAULT_T
from .._validation import check_float
from ..exceptions import InvalidParameterError

if TYPE_CHECKING:
    from ..faces._oracle import FactorOracle

__all__ = ["FactorEffects", "factor_effects", "DEFAULT_EFFECT_STRENGTH", "MAX_EFFECT_DIRECTIONS"]

DEFAULT_EFFECT_STRENGTH = 4.0
"""γ of the ±γ edits that :func:`factor_effects` reads (x_t has about 64 units of norm at 64×64)."""

MAX_EFFECT_DIRECTIONS = 64
"""The most directions one :func:`factor_effects` call measures (two denoisings each)."""

_BATCH = 8  # edited x_t denoised together


@dataclass
class FactorEffects:
    """How much each direction moves each factor of the face world.

    Made by :meth:`~svdlens.diffusion.Pipeline.factor_effects`.

    Attributes
    ----------
    names : tuple of str
        The factors, in the order of :data:`svdlens.faces.world.FACTORS`.
    labels : list of str
        One label per direction (``"v1"``, ...).
    change : numpy.ndarray
        ``(m, F)`` factor change per unit strength, in spreads: ``(o(+γ) − o(−γ)) / (2γ·spread)``.
    strength : float
        γ.
    t : float
        Where the edits were made.
    before : numpy.ndarray
        ``(F,)`` the oracle's factors of the unedited image (denoised from x_t as it is).
    images : numpy.ndarray
        ``(m, 2, h, w)`` the −γ and +γ images.
    """

    names: tuple[str, ...]
    labels: list[str]
    change: np.ndarray
    strength: float
    t: float
    before: np.ndarray
    images: np.ndarray = field(repr=False)

    @property
    def size(self) -> np.ndarray:
        """``(m,)`` ‖Δ‖: how far each direction moves the factors, in spreads per unit strength."""
        return np.linalg.norm(self.change, axis=1)

    @property
    def share(self) -> np.ndarray:
        """``(m, F)`` each factor's share of each direction's squared change (rows sum to 1)."""
        sq = self.change**2
        return sq / np.maximum(sq.sum(1, keepdims=True), 1e-300)

    @property
    def purity(self) -> np.ndarray:
        """``(m,)`` the largest share of one factor in each direction's change."""
        return self.share.max(1)

    @property
    def factor(self) -> list[str]:
        """The factor each direction moves most."""
        return [self.names[i] for i in self.share.argmax(1)]

    def purest(self) -> dict[str, dict[str, Any]]:
        """For each factor, the direction with the largest share of it: index, label, share and size.

        Returns
        -------
        dict
            factor name → ``{"index", "label", "share", "size", "sign"}``; ``sign`` is the sign
            of that factor's change along the direction (+1: the direction raises it).
        """
        share = self.share
        out = {}
        for j, name in enumerate(self.names):
            i = int(share[:, j].argmax())
            out[name] = {
                "index": i,
                "label": self.labels[i],
                "share": float(share[i, j]),
                "size": float(self.size[i]),
                "sign": int(np.sign(self.change[i, j]) or 1),
            }
        return out

    def _repr_html_(self) -> str:
        from .. import _html

        size = self.size
        rows = [
            [label, factor, f"{p:.0%}", float(s)]
            for label, factor, p, s in zip(self.labels, self.factor, self.purity, size)
        ]
        top = float(size.max()) if size.size and size.max() > 0 else 1.0
        shown = self.images[: _html.MAX_THUMBNAILS // 2]
        titles = [f"{label} {sign}γ" for label in self.labels[: len(shown)] for sign in ("−", "+")]
        return _html.card(
            f"FactorEffects: {len(self.labels)} directions read on {len(self.names)} factors",
            _html.facts([("t", self.t), ("strength γ", self.strength), ("factors", ", ".join(self.names))]),
            _html.columns(["direction", "factor", "purity", "size"], rows, bars=size / top),
            _html.thumbnails([img for pair in shown for img in pair], titles),
        )

    def plot(self) -> Any:
        """Draw the −γ and +γ images of each direction, a row each, labelled with its factor and purity.

        Nothing is denoised again: the figure shows the images the result holds.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (made without pyplot).
        """
        from ._figures import image_grid

        labels = [f"{label}: {factor} {p:.0%}" for label, factor, p in zip(self.labels, self.factor, self.purity)]
        title = f"Factor effects at t={self.t:g}, γ={self.strength:g}"
        return image_grid(self.images, labels, [f"−{self.strength:g}", f"+{self.strength:g}"], title)

    def summary(self) -> dict[str, Any]:
        """Plain numbers for JSON: per direction its factor, purity, size and change.

        Returns
        -------
        dict
            ``t``, ``strength``, ``factors`` and one entry per direction.
        """
        return {
            "t": self.t,
            "strength": self.strength,
            "factors": list(self.names),
            "directions": [
                {
                    "label": label,
                    "factor": factor,
                    "purity": float(p),
                    "size": float(s),
                    "change": dict(zip(self.names, np.round(c, 5).tolist())),
                }
                for label, factor, p, s, c in zip(self.labels, self.factor, self.purity, self.size, self.change)
            ],
        }


def factor_effects(
    pipe: Any,
    xt: torch.Tensor,
    directions: torch.Tensor | np.ndarray | Sequence[torch.Tensor],
    *,
    t: float = DEFAULT_T,
    steps: int = DEFAULT_STEPS,
    strength: float = DEFAULT_EFFECT_STRENGTH,
    labels: Sequence[str] | None = None,
    oracle: FactorOracle | None = None,
) -> FactorEffects:
    """Apply each direction at ±``strength`` at ``xt``, denoise, and read the factor change.

    Parameters
    ----------
    pipe : Pipeline
        A model of the face world (``sl.diffusion.load("builtin")``): grayscale, 64×64.
    xt : torch.Tensor
        ``(1, channels, size, size)`` x_t (from ``pipe.invert``, say).
    directions : tensor, array or sequence of tensors
        ``(m, *xt.shape[1:])`` directions at x_t (``basis.v``, random ones, ...); each is
        scaled to unit norm.
    t : float
        Where ``xt`` is, in (0, 1].
    steps : int
        DDIM steps over the whole diffusion.
    strength : float
        γ > 0.
    labels : sequence of str, optional
        One per direction (default ``v1``, ``v2``, ...).
    oracle : FactorOracle, optional
        The reader of factors (default: the shipped one).

    Returns
    -------
    FactorEffects

    Raises
    ------
    InvalidParameterError
        A model that is not the face world's size, more than one image, directions of the
        wrong shape, zero or non-finite directions, too many, or a strength that is not positive.
    """
    from ..faces import world

    strength = check_float("strength", strength, low=0.0, low_open=True)
    if pipe.image_channels != 1 or pipe.image_size != world.SIZE:
        raise InvalidParameterError(
            f"factor effects need a model of the face world ({world.SIZE}×{world.SIZE} grayscale, "
            f"sl.diffusion.load('builtin')); this one makes {pipe.image_channels}×{pipe.image_size}×{pipe.image_size}"
        )
    xt = torch.as_tensor(xt).to(pipe.device, pipe.dtype)
    if xt.ndim != 4 or len(xt) != 1:
        raise InvalidParameterError(
            f"factor effects read one image at a time: give one image (or an x_t of shape (1, channels, size, size)); "
            f"got {tuple(xt.shape)}; loop over the images for more"
        )
    V = torch.stack([torch.as_tensor(d) for d in directions]) if isinstance(directions, Sequence) else directions
    V = torch.as_tensor(V).to(pipe.device, pipe.dtype).reshape(-1, *xt.shape[1:])
    m = len(V)
    if not 1 <= m <= MAX_EFFECT_DIRECTIONS:
        raise InvalidParameterError(f"give 1 to {MAX_EFFECT_DIRECTIONS} directions; got {m}")
    norms = V.flatten(1).norm(dim=1)
    if not bool(torch.isfinite(norms).all()) or bool((norms == 0).any()):
        raise InvalidParameterError("directions must be finite and nonzero")
    labels = list(labels) if labels is not None else [f"v{i + 1}" for i in range(m)]
    if len(labels) != m:
        raise InvalidParameterError(f"give one label per direction: {m} directions, {len(labels)} labels")
    V = V / norms.reshape(-1, *[1] * (V.ndim - 1))
    oracle = oracle or world.oracle()
    moved = torch.cat([xt, *(xt + sign * strength * V[i : i + 1] for i in range(m) for sign in (-1, 1))])
    images = np.concatenate([pipe.generate(moved[i : i + _BATCH], t, steps) for i in range(0, len(moved), _BATCH)])
    read = oracle.predict(images)
    spread = world.spread()
    pairs = read[1:].reshape(m, 2, -1)
    change = (pairs[:, 1] - pairs[:, 0]) / (2 * strength * spread)
    return FactorEffects(
        names=world.NAMES,
        labels=labels,
        change=change,
        strength=strength,
        t=float(t),
        before=read[0],
        images=images[1:].reshape(m, 2, *images.shape[1:]),
    )

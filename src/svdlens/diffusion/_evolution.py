"""How the local basis changes as the noise dissolves, and how alike it is across images (Park et al. 2023, §5).

Park et al. study the basis of x_t ↦ h over the timestep: coarse directions (low spatial
frequency) at large t, fine detail near t = 0; and how alike the bases of different images are
at each t (they become alike at large t, where x_t carries little of its image). Here:

- the bases over a t grid, each warm-started from the basis at the t before (the directions
  move little between neighbouring t's, so the Krylov method starts near its answer);
- the distances between bases: the Grassmann geodesic distance (the norm of the principal
  angles) and the projection metric (the norm of their sines), across t and across images;
- the frequency content of each direction: its radially averaged power spectrum, and the mean
  radial frequency it puts its power at;
- the homogeneity at each t: one minus the mean projection distance between the bases of
  different images, scaled to [0, 1] (1: every image has the same directions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..exceptions import InvalidParameterError
from ..linalg import grassmann_distance, principal_angles, projection_distance
from ..nets import LocalBasis

__all__ = ["BasisEvolution", "radial_spectrum", "evolution_of", "MAX_TS"]

MAX_TS = 32
"""The most t's one evolution takes."""


def radial_spectrum(v: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The radially averaged power spectrum of each direction: (frequencies, (k, bins) powers).

    Each direction's 2-D power spectrum (summed over channels) is averaged over rings of equal
    radial frequency, in cycles per pixel from 0 to 0.5 (one bin per integer radius of the
    shorter side). Each row sums to 1, so rows compare across directions.

    Parameters
    ----------
    v : torch.Tensor or numpy.ndarray
        ``(k, ..., h, w)`` directions (a basis's ``v``).

    Returns
    -------
    tuple of numpy.ndarray
        ``(bins,)`` frequencies and ``(k, bins)`` normalised powers.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.cos(2 * np.pi * 0.25 * np.arange(16))[None, :] * np.ones((16, 1))  # 0.25 cycles per pixel
    >>> freq, power = radial_spectrum(x[None])
    >>> float(freq[power[0].argmax()])
    0.25
    """
    a = v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)
    if a.ndim < 3:
        raise InvalidParameterError(f"directions must be (k, ..., h, w); got shape {a.shape}")
    k, (h, w) = a.shape[0], a.shape[-2:]
    power = (np.abs(np.fft.fft2(a.reshape(k, -1, h, w))) ** 2).sum(axis=1)  # (k, h, w)
    fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)
    radius = np.hypot(fy[:, None], fx[None, :])
    bins = min(h, w) // 2 + 1
    index = np.minimum(np.rint(radius * min(h, w)).astype(int), bins - 1)
    counts = np.bincount(index.ravel(), minlength=bins)
    rings = np.stack([np.bincount(index.ravel(), p.ravel(), minlength=bins) for p in power]) / counts
    rings /= rings.sum(axis=1, keepdims=True).clip(min=1e-300)
    return np.arange(bins) / min(h, w), rings


@dataclass
class BasisEvolution:
    """Local bases over t (for one or several images), their distances and frequency content.

    Made by ``Pipeline.basis_evolution``.

    Attributes
    ----------
    ts : numpy.ndarray
        ``(T,)`` the t's, in the order computed (descending: each warm-starts the next).
    bases : list of list of LocalBasis
        ``bases[i][j]``: image i at ``ts[j]``.
    across_t : numpy.ndarray
        ``(N, T, T)`` Grassmann distances between the bases of one image at two t's.
    across_t_projection : numpy.ndarray
        ``(N, T, T)`` projection distances, the same pairs.
    across_images : numpy.ndarray
        ``(T, N, N)`` Grassmann distances between two images' bases at one t.
    homogeneity : numpy.ndarray
        ``(T,)`` 1 − the mean projection distance between different images' bases at each t,
        over its largest value √k (1: the same directions everywhere); NaN for one image.
    frequency : numpy.ndarray
        ``(T, bins)`` the mean radial power spectrum of the directions at each t (all images).
    mean_frequency : numpy.ndarray
        ``(T,)`` the power-weighted mean radial frequency (cycles per pixel) at each t.
    frequencies : numpy.ndarray
        ``(bins,)`` the radial frequencies of ``frequency``'s columns.
    products : numpy.ndarray
        ``(N, T)`` Jacobian products (JVPs + VJPs) each basis took.
    warm : bool
        Whether each basis was warm-started from the one at the t before.
    """

    ts: np.ndarray
    bases: list[list[LocalBasis]]
    across_t: np.ndarray
    across_t_projection: np.ndarray
    across_images: np.ndarray
    homogeneity: np.ndarray
    frequency: np.ndarray
    mean_frequency: np.ndarray
    frequencies: np.ndarray
    products: np.ndarray
    warm: bool

    def _repr_html_(self) -> str:
        from .. import _html

        T = len(self.ts)
        step = [float(self.across_t[:, j, j + 1].mean()) if j + 1 < T else None for j in range(T)]
        rows = [
            [float(t), step[j], float(self.mean_frequency[j]), None if np.isnan(h) else float(h), int(p)]
            for j, (t, h, p) in enumerate(zip(self.ts, self.homogeneity, self.products.sum(axis=0)))
        ]
        return _html.card(
            f"BasisEvolution: {len(self.bases)} image(s) at {T} t's, k = {len(self.bases[0][0].s)}",
            _html.facts([("warm starts", self.warm), ("Jacobian products in all", int(self.products.sum()))]),
            _html.columns(["t", "distance to the next t", "mean frequency", "homogeneity", "products"], rows),
        )

    def plot(self, kind: str = "distances") -> Any:
        """Draw the evolution: ``"distances"`` (across t, and the homogeneity) or ``"spectra"``.

        Parameters
        ----------
        kind : {"distances", "spectra"}
            The Grassmann distances between the first image's bases at every two t's, with the
            homogeneity against t for several images; or the radial power spectra per t and
            their mean frequency.

        Returns
        -------
        matplotlib.figure.Figure
            A pyplot-free figure; nothing is recomputed.

        Raises
        ------
        InvalidParameterError
            Another ``kind``.
        """
        from ._figures import evolution_figure, spectra_figure

        if kind not in ("distances", "spectra"):
            raise InvalidParameterError(f"kind must be 'distances' or 'spectra'; got {kind!r}")
        return evolution_figure(self) if kind == "distances" else spectra_figure(self)

    def angles(self, image: int, i: int, j: int) -> np.ndarray:
        """The principal angles (radians) between image ``image``'s bases at ``ts[i]`` and ``ts[j]``.

        Parameters
        ----------
        image : int
            Which image (a row of ``bases``).
        i, j : int
            Which two t's (indices into ``ts``).

        Returns
        -------
        numpy.ndarray
            ``(k,)`` ascending, in radians.
        """
        return principal_angles(self.bases[image][i].v, self.bases[image][j].v)


def check_ts(ts: Sequence[float]) -> list[float]:
    """The t's, each in (0, 1], distinct, 2 to MAX_TS of them, descending (so each warm-starts the next)."""
    try:
        values = sorted({float(t) for t in ts}, reverse=True)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"ts must be numbers in (0, 1]; got {ts!r}") from None
    if not 2 <= len(values) <= MAX_TS or not all(0 < t <= 1 for t in values):
        raise InvalidParameterError(f"ts must be 2 to {MAX_TS} distinct numbers in (0, 1]; got {list(ts)!r}")
    return values


def evolution_of(bases: list[list[LocalBasis]], ts: Sequence[float], warm: bool) -> BasisEvolution:
    """The distances, spectra and homogeneity of ``bases[image][t]`` (see :class:`BasisEvolution`)."""
    n, T = len(bases), len(ts)
    across_t = np.zeros((n, T, T))
    across_t_projection = np.zeros((n, T, T))
    for i in range(n):
        for a in range(T):
            for b in range(a + 1, T):
                va, vb = bases[i][a].v, bases[i][b].v
                across_t[i, a, b] = across_t[i, b, a] = grassmann_distance(va, vb)
                across_t_projection[i, a, b] = across_t_projection[i, b, a] = projection_distance(va, vb)
    across_images = np.zeros((T, n, n))
    homogeneity = np.full(T, np.nan)
    for j in range(T):
        pairs = []
        for a in range(n):
            for b in range(a + 1, n):
                va, vb = bases[a][j].v, bases[b][j].v
                across_images[j, a, b] = across_images[j, b, a] = grassmann_distance(va, vb)
                k = min(len(va), len(vb))
                pairs.append(projection_distance(va, vb) / np.sqrt(k))
        if pairs:
            homogeneity[j] = 1 - float(np.mean(pairs))
    spectra = []
    for j in range(T):
        freqs, powers = radial_spectrum(torch.cat([bases[i][j].v for i in range(n)]))
        spectra.append(powers.mean(axis=0))
    frequency = np.stack(spectra)
    products = np.array([[b.n_jvp + b.n_vjp for b in row] for row in bases])
    return BasisEvolution(
        ts=np.asarray(ts, float),
        bases=bases,
        across_t=across_t,
        across_t_projection=across_t_projection,
        across_images=across_images,
        homogeneity=homogeneity,
        frequency=frequency,
        mean_frequency=frequency @ freqs,
        frequencies=freqs,
        products=products,
        warm=warm,
    )

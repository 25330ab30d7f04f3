"""How models trained on different data differ in their local bases (Park et al. 2023, §5, across datasets).

Park et al. compare the latent structure of models trained on different datasets: how alike the
local bases of a dataset's images are at each t (its homogeneity), and how far apart the bases
of two datasets are. Here each model runs :meth:`Pipeline.basis_evolution` on its own start
faces (:func:`start_face`: the face world's gallery for ``"builtin"``, the real faces for
``"builtin-lfw"``), over the same t's; the directions are then resampled to the smallest
model's image size so that bases of different models can be measured against each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._defaults import DEFAULT_STEPS
from .._progress import Progress, report
from .._validation import check_int
from ..exceptions import InvalidParameterError
from ..linalg import grassmann_distance
from ..nets._basis import DEFAULT_MAX_MEMORY
from ._builtin import start_face
from ._evolution import BasisEvolution, check_ts, radial_spectrum

__all__ = ["ModelComparison", "compare_models", "MAX_MODELS", "MAX_IMAGES_PER_MODEL"]

MAX_MODELS = 6
"""The most models one comparison takes."""
MAX_IMAGES_PER_MODEL = 16
"""The most start faces per model (each costs one local basis per t)."""


@dataclass
class ModelComparison:
    """Local bases of several models over the same t's, each on its own images, measured within and across models.

    Made by :func:`compare_models`.

    Attributes
    ----------
    models : list of str
        The models, in order.
    evolutions : list of BasisEvolution
        Each model's bases over ``ts`` for its own images (with their distances and spectra).
    ts : numpy.ndarray
        ``(T,)`` the t's, descending.
    size : tuple of int
        ``(h, w)``: the image size every direction is resampled to before models are compared.
    distances : numpy.ndarray
        ``(T, M, M)``: at each t, the mean Grassmann distance between a basis of model a's
        images and one of model b's (the diagonal: between different images of one model),
        after resampling. NaN where the two models' images have different channels.
    homogeneity : numpy.ndarray
        ``(M, T)`` each model's homogeneity at each t (each evolution's ``homogeneity``).
    mean_frequency : numpy.ndarray
        ``(M, T)`` each model's power-weighted mean radial frequency of its directions, in cycles
        per pixel of the common ``size`` (so that models of different sizes compare).
    """

    models: list[str]
    evolutions: list[BasisEvolution]
    ts: np.ndarray
    size: tuple[int, int]
    distances: np.ndarray
    homogeneity: np.ndarray
    mean_frequency: np.ndarray

    def plot(self) -> Any:
        """Draw the comparison: homogeneity and mean frequency against t, and the distances within and across models.

        Returns
        -------
        matplotlib.figure.Figure
            A pyplot-free figure; nothing is recomputed.
        """
        from ._figures import model_comparison_figure

        return model_comparison_figure(self)


def resampled(v: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Directions ``(k, ..., h, w)`` resampled to ``size`` (antialiased bilinear), as ``(k, c, *size)``."""
    k, (h, w) = v.shape[0], v.shape[-2:]
    x = v.detach().reshape(k, -1, h, w).double()
    if (h, w) == tuple(size):
        return x
    return torch.nn.functional.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def _mean_distance(a: list[torch.Tensor], b: list[torch.Tensor], same: bool) -> float:
    if a[0].shape[1:] != b[0].shape[1:]:
        return float("nan")
    pairs = [(i, j) for i in range(len(a)) for j in range(len(b)) if not same or i < j]
    if not pairs:
        return float("nan")
    return float(np.mean([grassmann_distance(a[i], b[j]) for i, j in pairs]))


def compare_models(
    models: Sequence[str],
    ts: Sequence[float] = (0.9, 0.7, 0.5, 0.3, 0.1),
    k: int = 5,
    *,
    images: int = 3,
    steps: int = DEFAULT_STEPS,
    tol: float = 1e-4,
    max_memory: int | float | str | None = DEFAULT_MAX_MEMORY,
    cache_dir: str | Path | None = None,
    progress: Progress = None,
) -> ModelComparison:
    """Compare models trained on different data by their local bases over t (Park et al. 2023, §5).

    Each model computes the bases of x_t ↦ h for its own first ``images`` start faces
    (:func:`start_face`) at each t, warm-started along t (:meth:`Pipeline.basis_evolution`).
    Within a model, the homogeneity says how alike its images' bases are; across models,
    the directions are resampled to the smallest image size and the mean Grassmann distance
    between one model's bases and the other's is taken at each t.

    Parameters
    ----------
    models : sequence of str
        2 to 6 model names or folders, as :func:`svdlens.diffusion.load` takes them (loaded
        once per process with :func:`svdlens.diffusion.load_cached`).
    ts : sequence of float
        2 to 32 t's in (0, 1].
    k : int
        Directions per basis.
    images : int
        Start faces per model (1 to 16; with one, a model's homogeneity and its diagonal
        distance are NaN).
    steps : int
        DDIM steps over the whole diffusion.
    tol : float
        The residual tolerance of every basis.
    max_memory : int, float, str or None
        Budget for the Jacobian products' working memory.
    cache_dir : str or pathlib.Path, optional
        Keep each basis there between runs (:meth:`Pipeline.basis_evolution`).
    progress : callable, optional
        ``progress(done, total, label)`` after each basis of each model.

    Returns
    -------
    ModelComparison
        Each model's evolution, the distances within and across models at each t, and each
        model's homogeneity and mean frequency.

    Raises
    ------
    SvdlensError
        Fewer than 2 or more than 6 models, a model named twice, bad t's, k or images, or a
        model that does not load.

    Examples
    --------
    >>> from svdlens.diffusion import compare_models
    >>> c = compare_models(["builtin", "builtin-lfw"], ts=(0.8, 0.3), k=2, images=2, steps=6)  # doctest: +SKIP
    >>> c.distances.shape, c.size  # doctest: +SKIP
    ((2, 2, 2), (32, 32))
    """
    from ._cached import load_cached

    names = [str(m) for m in models]
    if not 2 <= len(names) <= MAX_MODELS:
        raise InvalidParameterError(f"compare_models takes 2 to {MAX_MODELS} models; got {len(names)}")
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"a model is named twice in {names}; give each once")
    values = check_ts(ts)
    images = check_int("images", images, high=MAX_IMAGES_PER_MODEL)
    total = len(names) * images * len(values)
    evolutions = []
    for m, name in enumerate(names):  # one model in memory at a time (load_cached keeps the last)
        pipe = load_cached(name)
        faces = np.stack([start_face(name, i) for i in range(images)])
        done = m * images * len(values)

        def step(i, _n, label, done=done, name=name):
            report(progress, done + i, total, f"{name}: {label}")

        evolutions.append(
            pipe.basis_evolution(
                faces, values, k, steps=steps, tol=tol, max_memory=max_memory, cache_dir=cache_dir, progress=step
            )
        )
    size = (
        min(e.bases[0][0].v.shape[-2] for e in evolutions),
        min(e.bases[0][0].v.shape[-1] for e in evolutions),
    )
    T, M = len(values), len(names)
    distances, mean_frequency = np.zeros((T, M, M)), np.zeros((M, T))
    for j in range(T):
        small = [[resampled(row[j].v, size) for row in e.bases] for e in evolutions]
        for m in range(M):
            frequencies, powers = radial_spectrum(torch.cat(small[m]))
            mean_frequency[m, j] = float(powers.mean(axis=0) @ frequencies)
        for a in range(M):
            for b in range(a, M):
                distances[j, a, b] = distances[j, b, a] = _mean_distance(small[a], small[b], same=a == b)
    return ModelComparison(
        models=names,
        evolutions=evolutions,
        ts=np.asarray(values, float),
        size=size,
        distances=distances,
        homogeneity=np.stack([e.homogeneity for e in evolutions]),
        mean_frequency=mean_frequency,
    )

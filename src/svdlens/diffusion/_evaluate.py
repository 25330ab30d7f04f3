"""Honest metrics for a local edit: what changed inside the mask, what leaked outside it.

LOCO Edit's released evaluation computes SSIM, LPIPS and masked MSE, but its LPIPS and masked-MSE
helpers call SSIM by mistake. Here each metric is what its name says:

- masked MSE inside and outside the mask: the mean of (after − before)² over those pixels;
- SSIM inside and outside: scikit-image's ``structural_similarity`` map (Wang et al. 2004),
  averaged over those pixels (its mean over the whole image is scikit-image's own SSIM);
- leakage: ‖Δ⊙(1−M)‖ / ‖Δ‖ with Δ = after − before, the share of the change outside the mask.

LPIPS and CLIP scores need weights that are not shipped and are not computed (nothing is
downloaded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..exceptions import InvalidParameterError

__all__ = ["EditMetrics", "edit_metrics"]


@dataclass
class EditMetrics:
    """What an edit did inside and outside its mask (see :func:`edit_metrics`).

    Attributes
    ----------
    mse_inside, mse_outside : float
        Mean squared change over the pixels inside and outside the mask.
    ssim_inside, ssim_outside : float
        scikit-image's SSIM map averaged over the pixels inside and outside.
    ssim : float
        SSIM of the whole image (scikit-image's ``structural_similarity``).
    leakage : float
        ‖Δ⊙(1−M)‖ / ‖Δ‖: the share of the change that falls outside the mask (0 when nothing
        changed).
    """

    mse_inside: float
    mse_outside: float
    ssim_inside: float
    ssim_outside: float
    ssim: float
    leakage: float


def _as_image(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)  # (c, h, w) -> (h, w, c)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or not np.isfinite(arr).all():
        raise InvalidParameterError(f"{name} must be a finite (h, w), (h, w, c) or (c, h, w) image in [0, 1]")
    return arr


def edit_metrics(before: ArrayLike, after: ArrayLike, mask: ArrayLike) -> EditMetrics:
    """Masked MSE, masked SSIM and leakage of the edit ``before`` → ``after``.

    Parameters
    ----------
    before, after : array_like
        Images in [0, 1] of the same shape: ``(h, w)``, ``(h, w, c)`` or ``(c, h, w)``.
    mask : array_like
        ``(h, w)`` bool: the region the edit was meant for.

    Returns
    -------
    EditMetrics
        Inside and outside the mask.

    Raises
    ------
    InvalidParameterError
        Images of different shapes, non-finite values, or a mask of another size, empty or full.

    Examples
    --------
    >>> import numpy as np
    >>> before = np.zeros((16, 16)); after = before.copy(); after[4:8, 4:8] = 0.5
    >>> mask = np.zeros((16, 16), bool); mask[4:8, 4:8] = True
    >>> m = edit_metrics(before, after, mask)
    >>> m.mse_inside, m.mse_outside, m.leakage
    (0.25, 0.0, 0.0)
    """
    from skimage.metrics import structural_similarity

    a, b = _as_image(before, "before"), _as_image(after, "after")
    if a.shape != b.shape:
        raise InvalidParameterError(f"before and after must have one shape; got {a.shape} and {b.shape}")
    m = np.asarray(mask)
    if m.shape != a.shape[:2] or not m.any() or m.all():
        raise InvalidParameterError(f"mask must be an (h, w) = {a.shape[:2]} boolean image, neither empty nor full")
    m = m.astype(bool)
    delta = b - a
    sq = delta**2 if delta.ndim == 2 else (delta**2).mean(axis=-1)
    channel = None if a.ndim == 2 else -1
    side = min(a.shape[:2])
    win = min(7, side if side % 2 else side - 1)  # scikit-image's default window, smaller for tiny images
    ssim, smap = structural_similarity(a, b, data_range=1.0, channel_axis=channel, full=True, win_size=win)
    if smap.ndim == 3:
        smap = smap.mean(axis=-1)
    total = float(np.linalg.norm(delta))
    outside = float(np.linalg.norm(delta[~m])) if delta.ndim == 2 else float(np.linalg.norm(delta[~m, :]))
    return EditMetrics(
        mse_inside=float(sq[m].mean()),
        mse_outside=float(sq[~m].mean()),
        ssim_inside=float(smap[m].mean()),
        ssim_outside=float(smap[~m].mean()),
        ssim=float(ssim),
        leakage=outside / total if total > 0 else 0.0,
    )

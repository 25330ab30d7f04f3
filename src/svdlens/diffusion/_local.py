"""Local edits: the Jacobian of the posterior mean x̂0 inside a mask, nullspace projection, diagnostics.

After Chen et al. (NeurIPS 2024), "Exploring Low-Dimensional Subspaces in Diffusion Models for
Controllable Image Editing" (LOCO Edit), built on Park et al. (2023):

- the map is x_t ↦ x̂0(x_t), the posterior mean E[x_0 | x_t] that the model predicts (Tweedie's
  formula; from ε, v or x_0 by the model's own ``prediction_type``), optionally restricted to
  the pixels of a mask;
- an edit direction is a right singular vector of that Jacobian inside the mask, projected onto
  the nullspace of the top-r right singular vectors of the Jacobian outside it, so that moving
  along it changes the outside as little as the first r outside directions allow;
- what is left outside is measured: the leakage ‖(J v)⊙(1−M)‖ / ‖J v‖ of each direction.

Projecting out r outside directions leaves whatever the (r+1)-th and later ones move. Where the
outside has more independent motions than r (a head that shifts, grows and is lit), the
``method="contrast"`` directions weigh the whole outside instead: the top eigenvectors of
Jᵀ(M − μ(1−M))J, the directions that move the inside most for a price μ on every unit they move
the outside (a penalised Rayleigh quotient, solved by Lanczos: ARPACK, Lehoucq et al. 1998).

And the two diagnostics that explain why a single step works: the numerical rank of the x̂0
Jacobian (its singular values against τ·σ₁, over t) and its local linearity, the norm ratio
‖f(x+λv) − f(x)‖ / ‖λ J v‖ and the cosine between the two, against λ.

Every SVD is the engine's certified block Krylov method on matrix-free products (JVP and VJP),
not LOCO's power iteration; each result carries its residuals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._defaults import DEFAULT_OUTSIDE_WEIGHT
from .._validation import check_choice, check_finite, check_float, check_int
from ..exceptions import InvalidParameterError, SvdlensError
from ..nets import LocalBasis, Transported, jacobian, local_basis, transport
from ._modules import DiffusersModel
from ._schedule import PREDICTION_TYPES

__all__ = [
    "transport_local",
    "Contrast",
    "X0Map",
    "LocalDirections",
    "RankProfile",
    "Linearity",
    "image_mask",
    "model_mask",
    "local_directions",
    "rank_profile",
    "linearity",
    "MAX_LAMBDAS",
]

MAX_LAMBDAS = 64
"""The most step sizes one :func:`linearity` call takes."""

LOCAL_METHODS = ("nullspace", "contrast")
MAX_OUTSIDE_WEIGHT = 1e6  # past this the inside no longer counts in float32 products
CONTRAST_BASIS = 80  # Lanczos vectors kept by method="contrast" (ARPACK's ncv)
MAX_CONTRAST_PRODUCTS = 20_000  # JVPs + VJPs before method="contrast" gives up, about ARPACK restarts × 2·ncv


class X0Map:
    """f: x_t ↦ x̂0, the posterior mean the U-Net predicts at one timestep, optionally inside a mask.

    With ᾱ the cumulative signal level at the timestep and ``out`` the U-Net's output:
    ``epsilon``: x̂0 = (x − √(1−ᾱ)·out)/√ᾱ; ``v_prediction``: x̂0 = √ᾱ·x − √(1−ᾱ)·out;
    ``sample``: x̂0 = out. This is diffusers' ``pred_original_sample`` of the same step before
    its ``clip_sample`` or ``thresholding``, which the map leaves out: the posterior mean is
    smooth, and a clipped pixel would have no derivative. With
    ``target="eps"`` the map is x_t ↦ ε̂ instead, the noise the same prediction implies
    (ε̂ = (x − √ᾱ·x̂0)/√(1−ᾱ)).

    Parameters
    ----------
    model : torch.nn.Module
        The U-Net, called as ``model(x, timestep, **forward_kwargs).sample``.
    alpha_bar : float
        ᾱ at ``timestep``.
    timestep : int
        The training timestep of x_t.
    prediction_type : {"epsilon", "v_prediction", "sample"}
        What the U-Net predicts (the scheduler's ``prediction_type``).
    pixels : torch.Tensor, optional
        Flat indices (into h·w) of the pixels to keep; the output is then ``(n, c, len(pixels))``.
        None keeps the whole x̂0.
    target : {"x0", "eps"}
        The posterior mean x̂0 (the default) or the noise ε̂.
    **forward_kwargs
        Passed to every U-Net call (``encoder_hidden_states`` for a text model).
    """

    def __init__(
        self,
        model: DiffusersModel,
        alpha_bar: float,
        timestep: int,
        prediction_type: str,
        pixels: torch.Tensor | None = None,
        target: str = "x0",
        **forward_kwargs: Any,
    ) -> None:
        if prediction_type not in PREDICTION_TYPES:
            raise InvalidParameterError(f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}")
        if target not in ("x0", "eps"):
            raise InvalidParameterError(f"target must be x0 or eps; got {target!r}")
        self.model, self.alpha_bar, self.timestep = model, float(alpha_bar), int(timestep)
        self.prediction_type, self.pixels, self.forward_kwargs = prediction_type, pixels, forward_kwargs
        self.target = target

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x, self.timestep, **self.forward_kwargs).sample
        a = self.alpha_bar
        if self.prediction_type == "epsilon":
            x0 = (x - math.sqrt(1 - a) * out) / math.sqrt(a)
        elif self.prediction_type == "v_prediction":
            x0 = math.sqrt(a) * x - math.sqrt(1 - a) * out
        else:
            x0 = out
        if self.target == "eps":
            x0 = out if self.prediction_type == "epsilon" else (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
        if self.pixels is None:
            return x0
        return x0.flatten(-2).index_select(-1, self.pixels)  # a fixed index: vmap and forward AD take it

    def restricted(self, pixels: torch.Tensor | None, target: str | None = None) -> X0Map:
        """The same map keeping only ``pixels`` (flat indices into h·w), or of another ``target``.

        Parameters
        ----------
        pixels : torch.Tensor or None
            Flat indices into h·w of the pixels kept (None: all).
        target : {"x0", "eps"}, optional
            What the map returns (default: as this one).

        Returns
        -------
        X0Map
            A new map; this one is unchanged.
        """
        return X0Map(
            self.model,
            self.alpha_bar,
            self.timestep,
            self.prediction_type,
            pixels,
            target or self.target,
            **self.forward_kwargs,
        )

    def __repr__(self) -> str:
        where = "" if self.pixels is None else f", {len(self.pixels)} pixels"
        name = "x0_map" if self.target == "x0" else "eps_map"
        return f"{name}({type(self.model).__name__}, timestep={self.timestep}, {self.prediction_type}{where})"


# ----------------------------------------------------------------------------- masks
def image_mask(mask: ArrayLike | Sequence[int], height: int, width: int) -> np.ndarray:
    """A mask in image pixels as a boolean ``(height, width)`` array, checked.

    Parameters
    ----------
    mask : array_like or (int, int, int, int)
        A boolean (or 0/1) image of ``(height, width)`` (a leading axis of 1 is taken), or a
        rectangle ``(x0, y0, x1, y1)`` in pixels: columns x0 to x1 − 1, rows y0 to y1 − 1.
    height, width : int
        The image's size.

    Returns
    -------
    numpy.ndarray
        ``(height, width)`` bool.

    Raises
    ------
    InvalidParameterError
        A rectangle outside the image or with no area; an image of another shape, not 0/1,
        empty, or covering the whole image (then nothing is outside to protect).

    Examples
    --------
    >>> int(image_mask((2, 4, 6, 8), 32, 32).sum())
    16
    """
    arr = np.asarray(mask)
    if arr.ndim == 1 and arr.shape == (4,) and not (arr.dtype == bool):
        values = [float(v) for v in arr]
        if not all(math.isfinite(v) and v == int(v) for v in values):
            raise InvalidParameterError(f"a mask rectangle is four whole pixel numbers (x0, y0, x1, y1); got {mask!r}")
        x0, y0, x1, y1 = (int(v) for v in values)
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise InvalidParameterError(
                f"the mask rectangle {(x0, y0, x1, y1)} must lie in the {width}×{height} image with x0 < x1 and "
                "y0 < y1 (columns x0 to x1 − 1, rows y0 to y1 − 1)"
            )
        out = np.zeros((height, width), bool)
        out[y0:y1, x0:x1] = True
    else:
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.shape != (height, width):
            raise InvalidParameterError(
                f"a mask image must be {height}×{width} like the image (or a rectangle x0, y0, x1, y1); got "
                f"shape {arr.shape}"
            )
        if arr.dtype != bool:
            if not np.isin(arr, (0, 1)).all():
                raise InvalidParameterError("a mask image must hold only 0 and 1 (or False and True)")
            arr = arr.astype(bool)
        out = arr
    if not out.any():
        raise InvalidParameterError("the mask is empty: it must cover at least one pixel")
    if out.all():
        raise InvalidParameterError("the mask covers the whole image: leave some pixels outside it to protect")
    return out


def model_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """An image mask at the model's resolution (the latent's, for a latent model): ``(size, size)`` bool.

    A model pixel is inside when at least half of the image pixels it stands for are (an area
    average, so a mask given at image size keeps its place and area in the latent).

    Raises
    ------
    InvalidParameterError
        The mask, at the model's resolution, covers no pixel or every pixel.
    """
    h, w = mask.shape
    if (h, w) == (size, size):
        small = mask
    else:
        t = torch.from_numpy(mask.astype(np.float32))[None, None]
        small = (torch.nn.functional.adaptive_avg_pool2d(t, (size, size))[0, 0] >= 0.5).numpy()
    if not small.any():
        raise InvalidParameterError(
            f"the mask covers no pixel of the model's {size}×{size} latent (each stands for {h // size}×{w // size} "
            "image pixels); make it larger"
        )
    if small.all():
        raise InvalidParameterError(f"the mask covers every pixel of the model's {size}×{size} latent; make it smaller")
    return small


def _flat(mask: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.flatnonzero(mask)).to(device)


# ----------------------------------------------------------------------------- local directions
@dataclass
class LocalDirections:
    """Edit directions inside a mask that leave the outside alone, as far as they can.

    Made by ``Pipeline.local_directions``. ``v`` is what edits move along (``pipe.edit(v=ld.v[0])``).
    With ``method="nullspace"`` (LOCO Edit) they are the inside directions projected onto the
    nullspace of the top-r directions outside; with ``method="contrast"`` they are the top
    eigenvectors of Jᵀ(M − μ(1−M))J (``contrast`` holds their eigenvalues and residuals).

    Attributes
    ----------
    v : torch.Tensor
        ``(k, *x.shape)`` the edit directions, unit norm.
    s : torch.Tensor
        ``(k,)`` singular values of the Jacobian of x̂0 inside the mask.
    leakage : torch.Tensor
        ``(k,)`` ‖(J vᵢ)⊙(1−M)‖ / ‖J vᵢ‖ for the whole x̂0 Jacobian J: the share of each
        projected direction's first-order change that still falls outside the mask.
    leakage_before : torch.Tensor
        ``(k,)`` the same for the inside directions alone (r = 0).
    inside : LocalBasis
        The SVD inside the mask (its ``v`` are the directions before projection).
    outside : LocalBasis or None
        The top-r SVD outside the mask (None for r = 0).
    mask : numpy.ndarray
        ``(h, w)`` the mask at the model's resolution.
    r : int
        How many outside directions were projected out.
    t : float
        Where x_t is.
    steps : int
        DDIM steps of the grid.
    xt : torch.Tensor or None
        The x_t the directions were found at, in float32 (edit it with ``pipe.edit(xt=ld.xt, v=ld.v[0], ...)``).
    method : {"nullspace", "contrast"}
        How ``v`` was found.
    contrast : Contrast or None
        For ``method="contrast"``, the eigenproblem's values, residuals and cost; else None.
    """

    v: torch.Tensor
    s: torch.Tensor
    leakage: torch.Tensor
    leakage_before: torch.Tensor
    inside: LocalBasis
    outside: LocalBasis | None
    mask: np.ndarray
    r: int
    t: float
    steps: int
    xt: torch.Tensor | None = field(default=None, repr=False)
    method: str = "nullspace"
    contrast: Contrast | None = None

    @property
    def residuals(self) -> dict[str, torch.Tensor]:
        """The certified residuals: ``{"inside": (k,), "outside": (r,)}``, and ``"contrast": (k,)`` for that method."""
        out = self.outside.residuals if self.outside is not None else torch.zeros(0)
        found = {"inside": self.inside.residuals, "outside": out}
        if self.contrast is not None:
            found["contrast"] = self.contrast.residuals
        return found

    @property
    def setting(self) -> str:
        """How the outside was kept: ``"r = 5"``, or ``"contrast, μ = 4"``."""
        return f"r = {self.r}" if self.contrast is None else f"contrast, μ = {self.contrast.weight:g}"

    @property
    def converged(self) -> bool:
        """Every SVD (and the contrast eigenproblem) reached its tolerance."""
        done = self.inside.converged and (self.outside is None or self.outside.converged)
        return bool(done and (self.contrast is None or self.contrast.converged))

    def _repr_html_(self) -> str:
        from .. import _html

        s = _html.as_numpy(self.s).astype(float)
        rows = [
            [f"v{i + 1}", float(s[i]), float(self.leakage[i]), float(self.leakage_before[i])] for i in range(len(s))
        ]
        worst_out = float(self.outside.residuals.max()) if self.outside is not None else None
        return _html.card(
            f"LocalDirections: {len(s)} directions inside a mask of {int(self.mask.sum())} pixels, {self.setting}",
            _html.facts(
                [
                    ("t", self.t),
                    ("steps", self.steps),
                    ("converged", self.converged),
                    ("max residual inside", f"{float(self.inside.residuals.max()):.1e}"),
                    ("max residual outside", f"{worst_out:.1e}" if worst_out is not None else None),
                ]
            ),
            _html.columns(["direction", "σ inside", "leakage", "leakage, r = 0"], rows, bars=1 - self.leakage.numpy()),
            _html.thumbnails([self.mask.astype(float)], ["mask"]),
            _html.thumbnails(list(self.v), [f"v{i + 1}" for i in range(len(s))], signed=True),
        )


def project_out(v: torch.Tensor, outside: torch.Tensor) -> torch.Tensor:
    """Rows of ``v`` projected onto the orthogonal complement of the rows of ``outside``, then normalised.

    ``outside``'s rows are orthonormal (right singular vectors). Projected twice (classical
    Gram–Schmidt, twice is enough; Giraud et al. 2005), so what is left is orthogonal to them to
    rounding.

    Raises
    ------
    InvalidParameterError
        A direction that lies (numerically) in the span of ``outside``.
    """
    V = v.reshape(len(v), -1).double()
    W = outside.reshape(len(outside), -1).double()
    for _ in range(2):
        V = V - (V @ W.T) @ W
    norms = V.norm(dim=1)
    if bool((norms < 1e-6).any()):
        i = int(torch.nonzero(norms < 1e-6)[0, 0])
        raise InvalidParameterError(
            f"direction {i + 1} lies in the span of the {len(W)} outside directions; project out fewer (r)"
        )
    return (V / norms[:, None]).to(v.dtype).reshape(v.shape)


def local_settings(
    method: str, k: int, r: int | None, outside_weight: float | None, dim: int
) -> tuple[str, int, int, float | None]:
    """``(method, k, r, μ)`` checked, before any work: r only for "nullspace", μ only for "contrast"."""
    method = check_choice("method", method, LOCAL_METHODS)
    k = check_int("k", k, high=512)
    if method == "nullspace":
        if outside_weight is not None:
            raise InvalidParameterError(
                "outside_weight is the price of the outside for method='contrast'; method='nullspace' projects "
                "out r outside directions instead: leave outside_weight out, or pass method='contrast'"
            )
        return method, k, check_int("r", 5 if r is None else r, low=0, high=512), None
    if r:
        raise InvalidParameterError(
            "r is the number of outside directions that method='nullspace' projects out; "
            "method='contrast' weighs the whole outside instead (outside_weight): leave r out"
        )
    if k >= dim - 1:
        raise InvalidParameterError(f"k must be below {dim - 1}, the dimension of x_t less one, for method='contrast'")
    mu = DEFAULT_OUTSIDE_WEIGHT if outside_weight is None else outside_weight
    return method, k, 0, check_float("outside_weight", mu, low=0.0, low_open=True, high=MAX_OUTSIDE_WEIGHT)


def local_directions(
    f: X0Map,
    xt: torch.Tensor,
    mask: np.ndarray,
    *,
    k: int,
    r: int | None,
    t: float,
    steps: int,
    basis_options: dict[str, Any],
    method: str = "nullspace",
    outside_weight: float | None = None,
) -> LocalDirections:
    """The :class:`LocalDirections` of ``f`` at ``xt`` under ``mask`` (at the model's resolution)."""
    method, k, r, mu = local_settings(method, k, r, outside_weight, xt.numel())
    inside = local_basis(f.restricted(_flat(mask, xt.device)), xt, k=k, **basis_options)
    outside, contrast = None, None
    if mu is not None:
        v, contrast = contrast_directions(f, xt, mask, k=k, weight=mu, tol=basis_options["tol"])
    elif r:
        outside = local_basis(f.restricted(_flat(~mask, xt.device)), xt, k=r, **basis_options)
        v = project_out(inside.v, outside.v)
    else:
        v = inside.v
    both = leakage(f, xt, torch.cat([v, inside.v]), mask)  # one Jacobian, one batch of JVPs for both
    return LocalDirections(
        v, inside.s, both[:k], both[k:], inside, outside, mask, r, t, steps, xt, method=method, contrast=contrast
    )


@dataclass
class Contrast:
    """The eigenproblem behind ``method="contrast"`` local directions.

    Attributes
    ----------
    values : torch.Tensor
        ``(k,)`` θᵢ = ‖M J vᵢ‖² − μ‖(1−M) J vᵢ‖², descending: what each direction gains inside
        less μ times what it moves outside, to first order.
    residuals : torch.Tensor
        ``(k,)`` ‖A vᵢ − θᵢ vᵢ‖ over the largest absolute θ, with A = Jᵀ(M − μ(1−M))J, from
        products after the solve.
    weight : float
        μ.
    n_products : int
        Jacobian-vector plus vector-Jacobian products, the residual check included.
    converged : bool
        Every residual reached the tolerance.
    """

    values: torch.Tensor
    residuals: torch.Tensor
    weight: float
    n_products: int
    converged: bool


def contrast_directions(
    f: X0Map, xt: torch.Tensor, mask: np.ndarray, *, k: int, weight: float, tol: float, seed: int = 0
) -> tuple[torch.Tensor, Contrast]:
    """The top-k eigenvectors of A = Jᵀ(M − μ(1−M))J, J the whole x̂0 Jacobian, matrix-free.

    max ‖M J v‖² − μ‖(1−M) J v‖² over unit v is a penalised Rayleigh quotient: as μ grows its
    maximiser tends to the direction that moves the inside most among those that move the
    outside least (the generalised eigenproblem of JᵀMJ against Jᵀ(1−M)J). A is symmetric and
    indefinite, so its largest algebraic eigenvalues come from implicitly restarted Lanczos
    (``scipy.sparse.linalg.eigsh``, ARPACK; Lehoucq, Sorensen & Yang 1998), one JVP and one VJP
    per product with A, from a seeded start. The residuals are then measured with one more
    batch of products; each vector's sign makes its largest entry positive.

    ``tol`` is the residual tolerance the result is held to (``converged``); ARPACK's own stop
    is relative to each θᵢ, so a θᵢ far below θ₁ can stop with a larger residual, and says so.

    Raises
    ------
    SvdlensError
        Lanczos did not converge within ``MAX_CONTRAST_PRODUCTS`` (raise ``tol``, or ask for
        fewer directions k: a cluster of near-equal top eigenvalues is the slow case), or the
        model's products were not finite.
    """
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

    d = xt.numel()
    J = jacobian(f.restricted(None), xt)
    w = torch.where(torch.from_numpy(mask), 1.0, -weight).to(device=xt.device, dtype=J.torch_dtype)
    count = 0

    def apply(V: np.ndarray) -> np.ndarray:
        nonlocal count
        X = torch.from_numpy(np.ascontiguousarray(V, dtype=np.float64).reshape(d, -1))
        X = X.to(device=xt.device, dtype=J.torch_dtype)
        Y = J.matmat(X)
        check_finite("the x̂0 Jacobian's products", Y)
        Y = (Y.reshape(*J.y.shape, -1) * w[..., None]).reshape(Y.shape)
        count += 2 * X.shape[1]
        back = J.rmatmat(Y)
        check_finite("the x̂0 Jacobian's products", back)
        return back.double().cpu().numpy()

    A = LinearOperator((d, d), matvec=apply, matmat=apply, dtype=np.float64)
    start = np.random.default_rng(seed).standard_normal(d)
    # A's top eigenvalues are clustered: a long Lanczos basis (80 vectors, not ARPACK's 2k + 1) took
    # 5× fewer products on the real-face model (806 → 168 at μ = 4) for d·80 floats of memory.
    ncv = min(d - 1, max(2 * k + 1, CONTRAST_BASIS))
    try:
        theta, V = eigsh(A, k=k, which="LA", tol=tol, v0=start, ncv=ncv, maxiter=MAX_CONTRAST_PRODUCTS // (2 * ncv))
    except ArpackNoConvergence as e:
        raise SvdlensError(
            f"the contrast directions did not converge after {count} products; raise tol or ask for fewer (k)"
        ) from e
    except ArpackError as e:  # ARPACK's own failures (a breakdown), as one svdlens error
        raise SvdlensError(f"the contrast eigensolver failed after {count} products: {e}") from e
    order = np.argsort(-theta)
    theta, V = theta[order], V[:, order]
    V = V * np.sign(V[np.abs(V).argmax(axis=0), np.arange(k)])
    residual = np.linalg.norm(apply(V) - V * theta, axis=0) / max(float(np.abs(theta).max()), np.finfo(float).tiny)
    v = torch.from_numpy(V.T.copy()).to(device=xt.device, dtype=xt.dtype).reshape(k, *xt.shape)
    return v, Contrast(
        values=torch.from_numpy(theta.copy()),
        residuals=torch.from_numpy(residual),
        weight=weight,
        n_products=count,
        converged=bool((residual <= tol).all()),
    )


def transport_local(source: LocalDirections, i: int, target: LocalDirections) -> Transported:
    """Local direction ``i`` of one image carried to another image's local directions under the same mask.

    Parallel transport (Park et al. 2023) in LOCO Edit's setting (Chen et al. 2024): the change
    direction ``i`` makes to x̂0 inside the mask (``source.inside.u[i]``) is pulled back through
    the target's inside basis (:func:`svdlens.transport`, ``method="project"``), then projected
    onto the nullspace of the target's top-r outside directions, as the target's own directions
    are. ``kept`` = cos(J'v, u) and ``gain`` = ‖J'v‖ are measured after the projection with one
    JVP of the target's inside Jacobian.

    Raises
    ------
    InvalidParameterError
        Masks that differ, directions found with ``method="contrast"`` (each image's own outside
        decides them; find them on the target), ``i`` out of range, or a target whose inside basis has no live
        Jacobian (read from a cache) while it has outside directions to project out.
    """
    if "contrast" in (source.method, target.method):
        raise InvalidParameterError(
            "contrast directions are not carried between images; find them on each image with "
            "pipe.local_directions(..., method='contrast'), or carry method='nullspace' directions"
        )
    if source.mask.shape != target.mask.shape or not np.array_equal(source.mask, target.mask):
        raise InvalidParameterError("a local direction is carried between images found with the same mask")
    i = check_int("i", i, low=0, high=len(source.s) - 1)
    u = source.inside.u[i]
    moved = transport(u, target.inside)
    if target.outside is None:
        return moved
    J = target.inside.jacobian
    if J is None:
        raise InvalidParameterError("the target's inside basis has no Jacobian (read from a cache); find it again")
    v = project_out(moved.v[None], target.outside.v)[0]
    Jv = J.matmat(v.reshape(-1, 1).to(J.torch_dtype)).reshape(-1).to(u.dtype)
    uf = u.reshape(-1)
    gain = float(torch.linalg.vector_norm(Jv))
    kept = float(Jv @ uf) / max(gain * float(torch.linalg.vector_norm(uf)), torch.finfo(uf.dtype).tiny)
    return Transported(v, kept, moved.coefficients, gain)


def leakage(f: X0Map, xt: torch.Tensor, v: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
    """``(k,)`` ‖(J vᵢ)⊙(1−M)‖ / ‖J vᵢ‖ for the whole x̂0 Jacobian J at ``xt`` (one JVP per direction)."""
    J = jacobian(f.restricted(None), xt)
    Jv = J.matmat(v.reshape(len(v), -1).T.to(xt.dtype)).T.reshape(len(v), *J.y.shape)  # (k, n, c, h, w)
    outside = torch.from_numpy(~mask).to(Jv.device)
    check_finite("the x̂0 Jacobian's products", Jv)
    total = Jv.flatten(1).norm(dim=1)
    return (Jv * outside).flatten(1).norm(dim=1) / total.clamp_min(torch.finfo(total.dtype).tiny)


# ----------------------------------------------------------------------------- diagnostics
@dataclass
class RankProfile:
    """The numerical rank of the x̂0 Jacobian against t: how many σᵢ are at least τ·σ₁.

    Attributes
    ----------
    ts : numpy.ndarray
        ``(T,)`` the t's.
    s : numpy.ndarray
        ``(T, k)`` the top-k singular values at each t.
    residuals : numpy.ndarray
        ``(T, k)`` their certified residuals.
    tau : float
        The threshold, relative to σ₁.
    rank : numpy.ndarray
        ``(T,)`` how many of the k computed σᵢ are at least τ·σ₁.
    at_least : numpy.ndarray
        ``(T,)`` bool: all k are, so the rank is k or more (compute more to see further).
    share : numpy.ndarray
        ``(T,)`` rank / the dimension of x_t: the share of directions that count.
    dim : int
        The dimension of x_t.
    converged : numpy.ndarray
        ``(T,)`` bool, each SVD reached its tolerance.
    """

    ts: np.ndarray
    s: np.ndarray
    residuals: np.ndarray
    tau: float
    rank: np.ndarray
    at_least: np.ndarray
    share: np.ndarray
    dim: int
    converged: np.ndarray

    def _repr_html_(self) -> str:
        from .. import _html

        rows = [
            [float(t), f"{int(r)}{'+' if a else ''}", float(s[0]), f"{float(res.max()):.1e}", bool(c)]
            for t, r, a, s, res, c in zip(self.ts, self.rank, self.at_least, self.s, self.residuals, self.converged)
        ]
        return _html.card(
            f"RankProfile: σᵢ ≥ {self.tau:g}·σ₁ of ∂x̂0/∂x_t over t (dimension {self.dim})",
            _html.columns(["t", "rank", "σ₁", "max residual", "converged"], rows),
        )

    def plot(self) -> Any:
        """Draw σᵢ/σ₁ at each t with the threshold τ, and the rank against t.

        Nothing is recomputed.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (made without pyplot).
        """
        from ._figures import rank_profile_figure

        return rank_profile_figure(self)


def rank_profile(bases: Sequence[LocalBasis], ts: Sequence[float], tau: float, dim: int) -> RankProfile:
    """The :class:`RankProfile` of the x̂0 bases computed at ``ts``."""
    tau = check_float("tau", tau, low=0.0, high=1.0, low_open=True)
    s = np.stack([b.s.detach().cpu().double().numpy() for b in bases])
    residuals = np.stack([b.residuals.detach().cpu().double().numpy() for b in bases])
    above = s >= tau * s[:, :1]
    rank = above.sum(axis=1)
    return RankProfile(
        ts=np.asarray(ts, float),
        s=s,
        residuals=residuals,
        tau=tau,
        rank=rank,
        at_least=np.asarray(above.all(axis=1)),
        share=rank / dim,
        dim=dim,
        converged=np.array([bool(b.converged) for b in bases]),
    )


@dataclass
class Linearity:
    """How linear x̂0 is along a direction: f(x + λv) − f(x) against its first-order part λ J v.

    Attributes
    ----------
    lambdas : numpy.ndarray
        ``(L,)`` the step sizes.
    ratio : numpy.ndarray
        ``(L,)`` ‖f(x+λv) − f(x)‖ / ‖λ J v‖ (1 for a linear map).
    cosine : numpy.ndarray
        ``(L,)`` the cosine between f(x+λv) − f(x) and λ J v (1 for a linear map).
    jv_norm : float
        ‖J v‖.
    """

    lambdas: np.ndarray
    ratio: np.ndarray
    cosine: np.ndarray
    jv_norm: float

    def _repr_html_(self) -> str:
        from .. import _html

        rows = [[float(lam), float(r), float(c)] for lam, r, c in zip(self.lambdas, self.ratio, self.cosine)]
        return _html.card(
            f"Linearity of x̂0 along a direction (‖J v‖ = {self.jv_norm:.4g})",
            _html.columns(["λ", "‖Δ‖ / ‖λ J v‖", "cosine"], rows, bars=np.clip(self.cosine, 0, 1)),
        )

    def plot(self) -> Any:
        """Draw the norm ratio and the cosine against the step λ (both 1 for a linear map).

        Nothing is recomputed.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (made without pyplot).
        """
        from ._figures import linearity_figure

        return linearity_figure(self)


def linearity(f: X0Map, xt: torch.Tensor, v: torch.Tensor, lambdas: Sequence[float]) -> Linearity:
    """The :class:`Linearity` of ``f`` at ``xt`` along ``v`` (normalised), for each step size."""
    values = [check_float("lambdas", lam) for lam in np.atleast_1d(np.asarray(lambdas, dtype=float))]
    if not 1 <= len(values) <= MAX_LAMBDAS or any(lam == 0 for lam in values):
        raise InvalidParameterError(f"lambdas must be 1 to {MAX_LAMBDAS} nonzero step sizes")
    v = torch.as_tensor(v, dtype=xt.dtype, device=xt.device).reshape(xt.shape)
    if not bool(torch.isfinite(v).all()) or float(v.norm()) == 0:
        raise InvalidParameterError("v must be a finite, nonzero direction shaped like x_t")
    v = v / v.norm()
    J = jacobian(f, xt)
    jv = J.matmat(v.reshape(-1, 1)).reshape(J.y.shape)
    y0 = J.y
    ratio, cosine = [], []
    with torch.no_grad():
        for lam in values:
            delta = (f(xt + lam * v) - y0).double().flatten()
            first = (lam * jv).double().flatten()
            check_finite(f"x̂0 at λ = {lam:g}", delta)
            ratio.append(float(delta.norm() / first.norm()))
            cosine.append(float(delta @ first / (delta.norm() * first.norm()).clamp_min(1e-300)))
    return Linearity(np.array(values), np.array(ratio), np.array(cosine), float(jv.norm()))

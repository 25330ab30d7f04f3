"""h-space (Park et al. 2023): where a call starts, the map x_t ↦ h, its local basis, edits, transport.

Park et al. (2023), "Understanding the Latent Space of Diffusion Models through the Lens of
Riemannian Geometry": invert an image to x_t with deterministic DDIM, take the local basis of
f: x_t ↦ h (the U-Net's mid-block, its "semantic space"), move along a right singular vector v
and denoise. :class:`StartPoint` is the one way to say where that starts: an image, a seed's
sample, or x_t itself.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._defaults import DEFAULT_STEPS, MAX_STRENGTHS
from .._progress import Progress, report
from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, SvdlensError
from ..linalg import principal_angles
from ..nets import LayerMap, LocalBasis, Transported, jacobian, layer_map, local_basis, transport
from ._ddim import DDIM
from ._local import X0Map
from ._modules import DiffusersModel
from ._schedule import Grid, Schedule
from ._text import Text

__all__ = ["HSpace", "StartPoint", "PromptComparison", "GuidancePath", "EDIT_BATCH", "LOCAL_BASIS_DEFAULTS"]

EDIT_BATCH = 8  # strengths denoised together in edit(): memory stays that of 8 images

LOCAL_BASIS_DEFAULTS: dict[str, Any] = {
    name: p.default for name, p in inspect.signature(local_basis).parameters.items() if p.default is not p.empty
}
"""The defaults of :func:`svdlens.local_basis`, read from it, so that ``directions`` has the same ones."""


@dataclass
class StartPoint:
    """Where the method starts: x_t, the image it stands for, and how it was made.

    Made by :meth:`Pipeline.start_point`, from exactly one of an image (inverted by DDIM), a
    seed (the sample generated from it, stopped at t) or x_t itself.

    Attributes
    ----------
    xt : torch.Tensor
        ``(n, channels, size, size)`` x_t in model space (n = 1 for a seed).
    image : numpy.ndarray or None
        ``(n, h, w)`` or ``(n, c, h, w)`` in [0, 1], one per x_t, as :meth:`Pipeline.generate`
        returns images: the images as given (not resized), or the seed's sample (generated in
        the same walk as x_t, when it was asked for); None for a start from x_t.
    t : float
        Where x_t is in the diffusion.
    steps : int
        DDIM steps over the whole diffusion.
    seed : int or None
        The seed, for a start from one.
    prompt, negative_prompt : str or None
        The text of the inversion or the sampling.
    guidance_scale : float or None
        The guidance of the inversion or the sampling, as given.
    """

    xt: torch.Tensor
    image: np.ndarray | None
    t: float
    steps: int
    seed: int | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    guidance_scale: float | None = None


@dataclass
class PromptComparison:
    """Local bases at one x_t under several prompts, and the principal angles between them.

    Made by :meth:`Pipeline.compare_prompts`.

    Attributes
    ----------
    prompts : list of str
        The prompts, in order.
    bases : list of LocalBasis
        The local basis of x_t ↦ h under each prompt.
    angles_v : numpy.ndarray
        ``(P, P, k)`` principal angles (radians, ascending) between the span of the bases' v
        (directions in x_t) for each pair of prompts.
    angles_u : numpy.ndarray
        ``(P, P, k)`` the same between the span of their u (directions in h).
    """

    prompts: list[str]
    bases: list[LocalBasis]
    angles_v: np.ndarray
    angles_u: np.ndarray

    @property
    def distances(self) -> np.ndarray:
        """``(P, P)`` Grassmann geodesic distances ‖θ‖₂ between the prompts' bases in x_t (radians).

        Park et al. (2023) compare prompts by how far apart their local bases are; this is that
        comparison as a distance matrix: symmetric, 0 for the same prompt, at most π/2·√k.
        The same as :func:`svdlens.grassmann_distance` of each pair of ``bases[i].v``.
        """
        return np.sqrt((self.angles_v**2).sum(axis=2))

    @property
    def distances_u(self) -> np.ndarray:
        """``(P, P)`` the same distances between the bases' spans in h (their u)."""
        return np.sqrt((self.angles_u**2).sum(axis=2))

    def plot(self) -> Any:
        """Draw the prompt distance matrices (v in x_t, u in h) as heatmaps.

        Returns
        -------
        matplotlib.figure.Figure
            A pyplot-free figure; nothing is recomputed.
        """
        from ._figures import prompt_distance_figure

        return prompt_distance_figure(self)


@dataclass
class GuidancePath:
    """x-space guidance with the local basis recomputed at every step: where it went and what it followed.

    Made by :meth:`Pipeline.guidance_path`.

    Attributes
    ----------
    xs : list of torch.Tensor
        The points, x_t first: ``iterations + 1`` of them, each of x_t's shape.
    bases : list of LocalBasis
        The local basis at each point before its step.
    followed : list of int
        Which direction of each basis the step moved along (0-based): the one nearest the
        direction moved along the step before.
    overlaps : list of float
        ``|⟨v_before, v_followed⟩|`` at each step (1: the direction did not turn).
    warm : bool
        Whether each basis was warm-started from the one before.
    """

    xs: list[torch.Tensor]
    bases: list[LocalBasis]
    followed: list[int]
    overlaps: list[float]
    warm: bool

    @property
    def products(self) -> int:
        """Jacobian products (JVPs + VJPs) all the bases took."""
        return int(sum(b.n_jvp + b.n_vjp for b in self.bases))


class HSpace:
    """The method in h-space, on top of DDIM: start points, h maps, local bases, edits, transport.

    Parameters
    ----------
    unet : diffusers U-Net
        The denoiser, placed already.
    schedule : Schedule
        Its schedule (transport makes grids for bases read back from a cache).
    text : Text
        The conditioning.
    ddim : DDIM
        Sampling and inversion.
    dtype : torch.dtype
        The weights' dtype; Jacobian products run in float32 whatever it is.
    """

    def __init__(self, unet: DiffusersModel, schedule: Schedule, text: Text, ddim: DDIM, *, dtype: torch.dtype):
        self.unet, self.schedule, self.text, self.ddim, self.dtype = unet, schedule, text, ddim, dtype
        self._unet32: Any = None  # a float32 copy for Jacobian products when the weights are half precision

    # ------------------------------------------------------------------ where a call starts
    def start_point(
        self,
        grid: Grid,
        *,
        image: ArrayLike | torch.Tensor | None,
        seed: int | None,
        xt: torch.Tensor | None,
        prompt: str | None,
        negative_prompt: str | None,
        guidance_scale: float | None,
        with_image: bool,
    ) -> StartPoint:
        """x_t from exactly one of an image, a seed and x_t, on ``grid`` (see ``Pipeline.start_point``)."""
        given = [name for name, value in (("image", image), ("seed", seed), ("xt", xt)) if value is not None]
        if len(given) != 1:
            raise SvdlensError(f"give exactly one of an image, a seed and xt; got {' and '.join(given) or 'none'}")
        picture: np.ndarray | None = None
        if xt is not None:
            x = torch.as_tensor(xt)
            if x.ndim != 4 or x.shape[1] != self.ddim.space.channels:
                raise SvdlensError(f"xt must be (n, {self.ddim.space.channels}, h, w); got shape {tuple(x.shape)}")
            x = x.to(self.ddim.device)
        elif image is not None:
            scale = 1.0 if guidance_scale is None else guidance_scale
            x = self.ddim.invert(image, grid, prompt=prompt, negative_prompt=negative_prompt, guidance_scale=scale)
            picture = self.ddim.space.as_batch(image)
        else:
            cond = self.ddim.sampling_conditioning(prompt, negative_prompt, guidance_scale)
            x = self.ddim.walk(self.ddim.noise(1, seed), grid.above, grid, cond)  # type: ignore[arg-type]  # seed is given
            if with_image:  # the rest of the same walk, down to the image
                picture = self.ddim.space.to_images(self.ddim.walk(x, grid.timesteps, grid, cond))
        return StartPoint(x, picture, grid.t, grid.steps, seed, prompt, negative_prompt, guidance_scale)

    # ------------------------------------------------------------------ the map and its basis
    def h_map(self, grid: Grid, *, prompt: str | None, layer: str | None) -> LayerMap:
        """f: x_t ↦ h at ``grid``'s x_t timestep, in float32 (see ``Pipeline.h_map``)."""
        return layer_map(
            self._unet32_or_own(), layer or "mid_block", timestep=grid.t_index, **self._text_kwargs(prompt)
        )

    def x0_map(self, grid: Grid, *, prompt: str | None) -> X0Map:
        """f: x_t ↦ x̂0 at ``grid``'s x_t timestep, in float32 (see ``Pipeline.x0_map``)."""
        t = grid.t_index
        kind = self.schedule.sampler.config.prediction_type
        return X0Map(self._unet32_or_own(), float(self.schedule.alphas[t]), t, kind, **self._text_kwargs(prompt))

    def _text_kwargs(self, prompt: str | None) -> dict[str, Any]:
        """The U-Net's conditioning on ``prompt`` (nothing for a model without text), in float32."""
        cond = self.text.conditioning(prompt)  # refuses a prompt for a model without text
        return {} if cond is None else {"encoder_hidden_states": cond.cond.float()}

    def _unet32_or_own(self) -> DiffusersModel:
        """The U-Net in float32 for Jacobian products: its own, or a float32 copy made once."""
        if self.dtype == torch.float32:
            return self.unet
        if self._unet32 is None:
            self._unet32 = copy.deepcopy(self.unet).float()
        return self._unet32

    def directions(
        self,
        xt: torch.Tensor,
        grid: Grid,
        *,
        k: int,
        prompt: str | None,
        layer: str | None,
        method: str,
        tol: float,
        max_memory: int | float | str | None,
        cache_dir: str | Path | None,
        jvp_mode: str,
        block_size: int | None,
        max_dim: int | None,
        max_iter: int | None,
        start: torch.Tensor | None,
    ) -> LocalBasis:
        """The local basis of x_t ↦ h at ``xt``, with its where-from filled in (see ``Pipeline.directions``)."""
        f = self.h_map(grid, prompt=prompt, layer=layer)
        solver = {"block_size": block_size, "max_dim": max_dim, "max_iter": max_iter}
        options: dict[str, Any] = {key: value for key, value in solver.items() if value is not None}
        basis = local_basis(
            f,
            torch.as_tensor(xt).to(self.ddim.device, torch.float32),
            k=k,
            method=method,
            tol=tol,
            cache_dir=cache_dir,
            max_memory=max_memory,
            jvp_mode=jvp_mode,
            start=start,
            **options,
        )
        basis.t, basis.steps, basis.prompt, basis.layer = grid.t, grid.steps, prompt, f.layer
        return basis

    # ------------------------------------------------------------------ edits and transport
    def edit(
        self,
        v: torch.Tensor | np.ndarray | None,
        strengths: Sequence[float],
        grid: Grid,
        *,
        image: ArrayLike | torch.Tensor | None,
        xt: torch.Tensor | None,
        prompt: str | None,
        negative_prompt: str | None,
        guidance_scale: float,
        x_guidance: int,
        x_guidance_scale: float,
        follow: int = 0,
    ) -> np.ndarray:
        """Images for x_t + γ·v (x_t of an image, or given), ``EDIT_BATCH`` strengths at a time (see ``Pipeline.edit``)."""
        if (image is None) == (xt is None):
            raise SvdlensError("give either an image or xt")
        if v is None:
            raise SvdlensError("give a direction v (e.g. basis.v[0])")
        strengths = [check_float("strength", g) for g in strengths]
        if not 1 <= len(strengths) <= MAX_STRENGTHS:
            raise InvalidParameterError(f"give 1 to {MAX_STRENGTHS} strengths; got {len(strengths)}")
        x_guidance = check_int("x_guidance", x_guidance, low=0)
        x_guidance_scale = check_float("x_guidance_scale", x_guidance_scale)
        follow = check_int("follow", follow, low=0, high=64)
        if follow and not x_guidance:
            raise InvalidParameterError("follow recomputes the basis along x-space guidance; give x_guidance ≥ 1 too")
        text: dict[str, Any] = {"prompt": prompt, "negative_prompt": negative_prompt}
        point = self.start_point(grid, image=image, seed=None, xt=xt, guidance_scale=None, with_image=False, **text)
        x_t = point.xt.to(self.ddim.device, self.dtype)
        v = torch.as_tensor(v).to(self.ddim.device, self.dtype).reshape(x_t.shape[1:])
        ti = grid.t_index
        cond1 = self.text.conditioning(prompt, negative_prompt, None) if x_guidance else None
        images = []
        for first in range(0, len(strengths), EDIT_BATCH):
            moved = []
            for g in strengths[first : first + EDIT_BATCH]:
                if x_guidance and follow:
                    path = self.guidance_path(
                        x_t, v, g, grid, iterations=x_guidance, scale=x_guidance_scale, k=follow, warm=True,
                        tol=LOCAL_BASIS_DEFAULTS["tol"], prompt=prompt, negative_prompt=negative_prompt,
                    )  # fmt: skip
                    moved.append(path.xs[-1])
                    continue
                x = x_t.clone() if x_guidance else x_t + g * v
                for _ in range(x_guidance):
                    x = self._guidance_step(x, v, g, x_guidance_scale, ti, cond1)
                moved.append(x)
            images.append(self.ddim.generate(torch.cat(moved), grid, guidance_scale=guidance_scale, **text))
        return np.concatenate(images)

    def guidance_path(
        self,
        x_t: torch.Tensor,
        v: torch.Tensor,
        strength: float,
        grid: Grid,
        *,
        iterations: int,
        scale: float,
        k: int,
        warm: bool,
        tol: float,
        prompt: str | None,
        negative_prompt: str | None,
    ) -> GuidancePath:
        """x ← x + s·(ε(x + γv) − ε(x)), v re-read from the local basis at each x (see ``Pipeline.guidance_path``)."""
        ti = grid.t_index
        cond = self.text.conditioning(prompt, negative_prompt, None)
        x = torch.as_tensor(x_t).to(self.ddim.device, self.dtype)
        v = torch.as_tensor(v).to(self.ddim.device, torch.float32).reshape(x.shape[1:])
        norm = torch.linalg.vector_norm(v)
        if not norm > 0:
            raise InvalidParameterError("the direction v is zero; give a direction such as basis.v[0]")
        xs, followed, overlaps = [x], [], []
        bases: list[LocalBasis] = []
        for _ in range(iterations):
            basis = self.directions(
                x.float(), grid, k=k, prompt=prompt, layer=None, method=LOCAL_BASIS_DEFAULTS["method"], tol=tol,
                max_memory=LOCAL_BASIS_DEFAULTS["max_memory"], cache_dir=None,
                jvp_mode=LOCAL_BASIS_DEFAULTS["jvp_mode"], block_size=None, max_dim=None, max_iter=None,
                start=bases[-1].v if warm and bases else None,
            )  # fmt: skip
            flat = basis.v.reshape(len(basis.s), -1).to(v.device, torch.float32)
            dots = flat @ (v.reshape(-1) / norm)
            j = int(dots.abs().argmax())
            v = (flat[j] * torch.sign(dots[j]) * norm).reshape(v.shape)
            x = self._guidance_step(x, v.to(self.dtype), strength, scale, ti, cond)
            xs.append(x)
            bases.append(basis)
            followed.append(j)
            overlaps.append(float(dots[j].abs()))
        return GuidancePath(xs, bases, followed, overlaps, warm)

    def _guidance_step(
        self, x: torch.Tensor, v: torch.Tensor, strength: float, scale: float, t_index: int, cond: Any
    ) -> torch.Tensor:
        """One step of x-space guidance (Park et al. 2023): x + s·(ε(x + γv) − ε(x))."""
        return x + scale * (
            self.text.model_output(x + strength * v, t_index, cond) - self.text.model_output(x, t_index, cond)
        )

    def transport(
        self, basis_from: LocalBasis, i: int, targets: list[LocalBasis], *, method: str, damp: float | None
    ) -> list[Transported]:
        """Direction i of one basis carried to each target (see ``Pipeline.transport``)."""
        out = []
        for b in targets:
            J = None
            if method == "lsqr" and b.jacobian is None:
                if b.x is None or b.t is None:
                    raise SvdlensError(
                        "method='lsqr' needs each target's x_t and t (bases from pipe.directions have them)"
                    )
                grid = self.schedule.grid(b.t, b.steps or DEFAULT_STEPS)
                J = jacobian(self.h_map(grid, prompt=b.prompt, layer=b.layer), b.x.to(self.ddim.device))
            out.append(transport(basis_from.u[i], b, method=method, damp=damp, jacobian=J))
        return out

    def compare_prompts(
        self,
        xt: torch.Tensor,
        prompts: list[str],
        grid: Grid,
        *,
        k: int,
        layer: str | None,
        progress: Progress,
        options: dict[str, Any],
    ) -> PromptComparison:
        """The bases at ``xt`` under each prompt and their principal angles (see ``Pipeline.compare_prompts``)."""
        bases = []
        report(progress, 0, len(prompts), "local bases")
        for i, p in enumerate(prompts, start=1):
            bases.append(self.directions(xt, grid, k=k, prompt=p, layer=layer, **options))
            report(progress, i, len(prompts), "local bases")
        P, kk = len(bases), min(b.k for b in bases)
        angles_v, angles_u = np.zeros((P, P, kk)), np.zeros((P, P, kk))
        for a in range(P):
            for b in range(P):
                angles_v[a, b] = principal_angles(bases[a].v, bases[b].v)[:kk]
                angles_u[a, b] = principal_angles(bases[a].u, bases[b].u)[:kk]
        return PromptComparison(prompts, bases, angles_v, angles_u)

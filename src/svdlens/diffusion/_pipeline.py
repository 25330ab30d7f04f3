"""The face pipeline: DDIM inversion and sampling, h-space directions, edits and parallel transport.

Park et al. (2023), "Understanding the Latent Space of Diffusion Models through the Lens of
Riemannian Geometry": invert an image to x_t with deterministic DDIM (Song et al. 2021, eta = 0),
take the local basis of f: x_t ↦ h (the U-Net's mid-block, its "semantic space"), move along a
right singular vector v and denoise. Model and scheduler stay separate, as in diffusers.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._defaults import DEFAULT_K, DEFAULT_STEPS, DEFAULT_T, MAX_STEPS, MAX_STRENGTHS
from .._progress import Progress, track
from .._validation import check_float, check_fraction, check_int
from ..exceptions import InputNote, InvalidParameterError, ModelLoadError, SvdlensError
from ..nets import LayerMap, LocalBasis, Transported, jacobian, layer_map, local_basis, transport

__all__ = ["FacePipeline", "load", "ModelLoadError", "InputNote"]

DiffusersUNet = Any
"""A diffusers ``UNet2DModel`` (typed loosely: diffusers' own annotations do not type-check)."""
DiffusersScheduler = Any
"""A diffusers ``DDIMScheduler`` (typed loosely, as :data:`DiffusersUNet`)."""


def load(source: str | Path = "builtin", *, device: torch.device | str | None = None) -> FacePipeline:
    """The built-in face DDPM (``"builtin"``), a diffusers ``UNet2DModel`` folder, or a hub id when online.

    Weights must be safetensors: a folder with only pickled weights (``.bin``, ``.pt``) is refused.

    Parameters
    ----------
    source : str or pathlib.Path
        ``"builtin"`` (the 32×32 grayscale face DDPM shipped in the package), a diffusers model
        folder (a ``UNet2DModel`` with ``config.json``, directly or in ``unet/``, and a DDIM
        scheduler config, directly or in ``scheduler/``), or a hub id ``org/name`` when online.
    device : torch.device or str, optional
        Where the model runs (default: CPU).

    Returns
    -------
    FacePipeline
        The model and its scheduler.

    Raises
    ------
    ModelLoadError
        Missing or pickle-only weights, invalid JSON, a folder that is not a diffusers model,
        a scheduler setting the DDIM here does not honour, or a hub id while offline.

    Warns
    -----
    InputNote
        The folder has no scheduler config: a 1000-step linear schedule is used.

    Examples
    --------
    >>> import svdlens as sl
    >>> pipe = sl.diffusion.load("builtin")
    >>> pipe.size, pipe.channels, pipe.T
    (32, 1, 1000)
    """
    from diffusers import DDIMScheduler, UNet2DModel

    from ._builtin import BUILTIN_DIR

    folder = BUILTIN_DIR if source == "builtin" else Path(str(source))
    if source == "builtin" and not (folder / "diffusion_pytorch_model.safetensors").exists():
        raise ModelLoadError(
            f"the built-in weights are missing from {folder}; reinstall svdlens (they ship in the package) "
            "or train them again with svdlens.diffusion.train_faces"
        )
    if folder.exists():
        if not folder.is_dir():
            raise ModelLoadError(f"{folder} is a file; give the diffusers model folder (with config.json)")
        unet_dir = folder / "unet" if (folder / "unet" / "config.json").exists() else folder
        if not (unet_dir / "config.json").exists():
            raise ModelLoadError(f"{folder} is not a diffusers UNet2DModel folder: no config.json")
        _check_json(unet_dir / "config.json")
        for name in ("scheduler_config.json", "scheduler/scheduler_config.json"):
            if (folder / name).exists():
                _check_json(folder / name)
        if not list(unet_dir.glob("*.safetensors")):
            pickles = [p.name for p in unet_dir.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt")]
            raise ModelLoadError(
                f"{unet_dir} has no safetensors weights{' (only the pickle files ' + ', '.join(pickles) + ')' if pickles else ''}; "
                "pickles can run code when loaded, so they are refused. Convert them to safetensors first."
            )
        try:
            unet = UNet2DModel.from_pretrained(unet_dir, use_safetensors=True, low_cpu_mem_usage=False)
        except Exception as err:
            raise ModelLoadError(f"cannot load a UNet2DModel from {unet_dir}: {err}") from None
        sched_dir = folder / "scheduler" if (folder / "scheduler").is_dir() else folder
        try:
            scheduler = DDIMScheduler.from_pretrained(sched_dir)
        except Exception:
            warnings.warn(
                f"no scheduler config in {folder}: using a 1000-step linear DDIM schedule", InputNote, stacklevel=2
            )
            scheduler = DDIMScheduler(num_train_timesteps=1000)
    else:
        text = str(source)
        if text.count("/") != 1 or text.startswith((".", "/")):
            raise ModelLoadError(f"no model folder {source!r}, and it does not look like a hub id (org/name)")
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise ModelLoadError(
                f"could not fetch {text!r} from the hub: HF_HUB_OFFLINE is set, so this machine is offline. "
                "Download the model elsewhere and pass its folder instead."
            )
        try:
            unet = UNet2DModel.from_pretrained(
                text, subfolder="unet" if "stable" in text else None, use_safetensors=True
            )
            scheduler = DDIMScheduler.from_pretrained(text, subfolder="scheduler")
        except Exception as err:
            raise ModelLoadError(
                f"could not fetch {text!r} from the hub ({type(err).__name__}). If this machine is offline, "
                "download the model elsewhere and pass its folder instead."
            ) from None
    return FacePipeline(unet, scheduler, device=device)


def _check_json(path: Path) -> None:
    import json

    try:
        json.loads(path.read_text())
    except (ValueError, OSError) as err:
        raise ModelLoadError(f"{path} is not valid JSON ({err}); fix or replace the model's config") from None


EDIT_BATCH = 8  # strengths denoised together in edit(): memory stays that of 8 images

# What the DDIM steps here implement: noise prediction, x₀ clipped to [−1, 1] when sampling.
# A scheduler config asking for anything else would give silently wrong images, so it is refused.
HONOURED = {
    "prediction_type": ("epsilon",),
    "thresholding": (False,),
    "clip_sample": (True,),
    "clip_sample_range": (1.0,),
}


def check_scheduler(config) -> None:
    """Refuse a scheduler config whose settings the DDIM steps here do not implement."""
    for key, allowed in HONOURED.items():
        value = config.get(key, allowed[0])
        if value not in allowed:
            raise ModelLoadError(
                f"the model's scheduler has {key}={value!r}; svdlens' DDIM supports only "
                f"{key}={allowed[0]!r} for now, and refuses rather than make wrong images"
            )


class FacePipeline:
    """A UNet2DModel and its noise schedule, with DDIM in both directions and h-space tools.

    Made by :func:`load`. Images go in and come out as floats in [0, 1]; the model works in
    ``[−1, 1]`` at its own size and channels.

    Parameters
    ----------
    unet : diffusers.UNet2DModel
        The noise-prediction model; it is moved to ``device``, put in eval mode and frozen.
    scheduler : diffusers.DDIMScheduler
        Its noise schedule (``alphas_cumprod``, ``num_train_timesteps``).
    device : torch.device or str, optional
        Where the model runs (default: CPU).

    Attributes
    ----------
    T : int
        The number of training timesteps.
    alphas : torch.Tensor
        ``(T,)`` ᾱ_t, the cumulative products of the schedule, float64.
    channels : int
        The model's image channels.
    size : int
        The model's image size (square).

    Raises
    ------
    ModelLoadError
        A scheduler setting the DDIM here does not honour (see ``HONOURED``).
    """

    def __init__(
        self, unet: DiffusersUNet, scheduler: DiffusersScheduler, device: torch.device | str | None = None
    ) -> None:
        self.device = torch.device(device or "cpu")
        self.unet = unet.to(self.device).eval().requires_grad_(False)
        check_scheduler(scheduler.config)
        self.scheduler = scheduler
        self.T = int(scheduler.config.num_train_timesteps)
        self.alphas = scheduler.alphas_cumprod.to(torch.float64)
        cfg = unet.config
        self.channels = int(cfg.in_channels)
        self.size = int(cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0])

    # ---------------------------------------------------------------- images in/out
    def to_model(self, images: ArrayLike | torch.Tensor) -> torch.Tensor:
        """Images (n, h, w) or (n, c, h, w) in [0, 1] → model space (n, C, S, S) in [−1, 1], with notes.

        Parameters
        ----------
        images : array_like or torch.Tensor
            ``(n, h, w)``, ``(n, c, h, w)``, one ``(h, w)`` image or one ``(c, h, w)`` image, in [0, 1].

        Returns
        -------
        torch.Tensor
            ``(n, C, S, S)`` float32 in [−1, 1] on the pipeline's device.

        Raises
        ------
        SvdlensError
            Another number of dimensions or channels, NaN or Inf.

        Warns
        -----
        InputNote
            Colour converted to grayscale (or grayscale repeated to colour), or images resized.

        Examples
        --------
        >>> import numpy as np, svdlens as sl
        >>> sl.diffusion.load("builtin").to_model(np.ones((2, 32, 32))).shape
        torch.Size([2, 1, 32, 32])
        """
        x = torch.as_tensor(
            np.asarray(images, dtype=np.float32) if not isinstance(images, torch.Tensor) else images
        ).float()
        if x.ndim == 2:
            x = x[None, None]
        elif x.ndim == 3:
            x = x[:, None] if self.channels == 1 or x.shape[0] not in (1, 3) else x[None]
        if x.ndim != 4:
            raise SvdlensError(f"images must be (n, h, w) or (n, c, h, w); got shape {tuple(x.shape)}")
        if x.shape[1] != self.channels:
            if self.channels == 1 and x.shape[1] in (3, 4):
                warnings.warn("colour images converted to grayscale for this 1-channel model", InputNote, stacklevel=3)
                x = (x[:, :3] * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
            elif self.channels == 3 and x.shape[1] == 1:
                warnings.warn("grayscale images repeated to 3 channels for this colour model", InputNote, stacklevel=3)
                x = x.repeat(1, 3, 1, 1)
            else:
                raise SvdlensError(f"images have {x.shape[1]} channels; the model takes {self.channels}")
        if x.shape[-2:] != (self.size, self.size):
            warnings.warn(
                f"images of {x.shape[-2]}×{x.shape[-1]} resized to the model's {self.size}×{self.size}",
                InputNote,
                stacklevel=3,
            )
            x = torch.nn.functional.interpolate(
                x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False
            )
        if not bool(torch.isfinite(x).all()):
            raise SvdlensError("images contain NaN or Inf")
        return (x * 2 - 1).to(self.device)

    def to_images(self, x: torch.Tensor) -> np.ndarray:
        """Model space → images in [0, 1]: (n, h, w) for one channel, else (n, c, h, w).

        Parameters
        ----------
        x : torch.Tensor
            ``(n, C, S, S)`` in model space, [−1, 1]; values outside are clipped.

        Returns
        -------
        numpy.ndarray
            float32 images in [0, 1].

        Examples
        --------
        >>> import torch, svdlens as sl
        >>> sl.diffusion.load("builtin").to_images(torch.zeros(2, 1, 32, 32)).shape
        (2, 32, 32)
        """
        img = ((x.detach().float().cpu() + 1) / 2).clamp(0, 1).numpy()
        return img[:, 0] if self.channels == 1 else img

    # ------------------------------------------------------------------- DDIM
    def timesteps(self, t: float, steps: int) -> list[int]:
        """Integer timesteps from 0 up to ⌊t·T⌋ − 1, ``steps`` + 1 of them, evenly spaced.

        Parameters
        ----------
        t : float
            How far into the diffusion, in (0, 1].
        steps : int
            DDIM steps, at most ``MAX_STEPS``.

        Returns
        -------
        list of int
            Ascending timesteps (fewer when rounding makes two equal).

        Raises
        ------
        InvalidParameterError
            ``t`` outside (0, 1] or ``steps`` not a whole number in range.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").timesteps(0.6, 3)
        [0, 200, 399, 599]
        """
        top = max(1, int(round(check_fraction("t", t) * self.T)) - 1)
        steps = check_int("steps", steps, high=MAX_STEPS)
        return sorted({int(round(v)) for v in np.linspace(0, top, steps + 1)})

    def eps(self, x: torch.Tensor, timestep: int) -> torch.Tensor:
        """The model's noise prediction ε(x, timestep), without gradients.

        Parameters
        ----------
        x : torch.Tensor
            ``(n, C, S, S)`` noisy images in model space.
        timestep : int
            The integer timestep, in ``[0, T)``.

        Returns
        -------
        torch.Tensor
            ``(n, C, S, S)`` the predicted noise.
        """
        with torch.no_grad():
            return self.unet(x, timestep).sample

    def _step(self, x, t_from: int, t_to: int, eps=None) -> torch.Tensor:
        """One deterministic DDIM move from t_from to t_to (either direction): x₀ estimate, then re-noise.

        Going down (sampling), x₀ is clipped to the data range [−1, 1] and ε re-derived from it, as
        diffusers' DDIM does for pixel models: near t = T, √ᾱ_t ≈ 0 and the raw estimate explodes.
        Going up (inversion) nothing is clipped, so that a step and its reverse undo each other.
        """
        a_from, a_to = self.alphas[t_from].item(), self.alphas[t_to].item()
        e = self.eps(x, t_from) if eps is None else eps
        x0 = (x - (1 - a_from) ** 0.5 * e) / a_from**0.5
        if t_to < t_from:
            x0 = x0.clamp(-1, 1)
            e = (x - a_from**0.5 * x0) / (1 - a_from) ** 0.5
        return a_to**0.5 * x0 + (1 - a_to) ** 0.5 * e

    def invert(
        self,
        images: ArrayLike | torch.Tensor,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        *,
        progress: Progress = None,
    ) -> torch.Tensor:
        """Images → x_t by DDIM inversion (eta = 0).

        Parameters
        ----------
        images : array_like or torch.Tensor
            Images in [0, 1], as :meth:`to_model` takes them.
        t : float
            How far into the diffusion to go, in (0, 1].
        steps : int
            DDIM steps from 0 to t.
        progress : callable, optional
            ``progress(done, total, label)`` after each step.

        Returns
        -------
        torch.Tensor
            ``(n, C, S, S)`` x_t in model space.

        Examples
        --------
        >>> import svdlens as sl
        >>> pipe = sl.diffusion.load("builtin")
        >>> pipe.invert(pipe.sample(n=2, steps=2), t=0.6, steps=2).shape
        torch.Size([2, 1, 32, 32])
        """
        return self._walk(self.to_model(images), self.timesteps(t, steps), "DDIM inversion", progress)

    def _walk(self, x, ts, label, progress: Progress):
        """DDIM steps along the timesteps ``ts`` (up for inversion, down for sampling)."""
        for a, b in track(zip(ts[:-1], ts[1:]), len(ts) - 1, label, progress):
            x = self._step(x, a, b)
        return x

    def generate(
        self, xt: torch.Tensor, t: float = DEFAULT_T, steps: int = DEFAULT_STEPS, *, progress: Progress = None
    ) -> np.ndarray:
        """x_t → images by DDIM sampling from t down to 0 (eta = 0).

        Parameters
        ----------
        xt : torch.Tensor
            ``(n, C, S, S)`` x_t in model space (from :meth:`invert`, say).
        t : float
            Where ``xt`` is in the diffusion, in (0, 1].
        steps : int
            DDIM steps from t to 0.
        progress : callable, optional
            ``progress(done, total, label)`` after each step.

        Returns
        -------
        numpy.ndarray
            Images in [0, 1]: ``(n, h, w)`` for one channel, else ``(n, c, h, w)``.

        Examples
        --------
        >>> import svdlens as sl
        >>> pipe = sl.diffusion.load("builtin")
        >>> xt = pipe.invert(pipe.sample(n=1, steps=2), t=0.6, steps=2)
        >>> pipe.generate(xt, t=0.6, steps=2).shape
        (1, 32, 32)
        """
        x = torch.as_tensor(xt).to(self.device, torch.float32)
        ts = self.timesteps(t, steps)[::-1]
        x = self._walk(x, ts, "DDIM sampling", progress)
        x0 = self._step(x, ts[-1], 0) if ts[-1] != 0 else x
        return self.to_images(x0)

    def sample(
        self, n: int = 16, seed: int = 0, steps: int = DEFAULT_STEPS, *, progress: Progress = None
    ) -> np.ndarray:
        """New images from pure noise at t = 1.

        Parameters
        ----------
        n : int
            How many images.
        seed : int
            Seed of the noise; the same seed gives the same images.
        steps : int
            DDIM steps from t = 1 to 0.
        progress : callable, optional
            ``progress(done, total, label)`` after each step.

        Returns
        -------
        numpy.ndarray
            Images in [0, 1]: ``(n, h, w)`` for one channel, else ``(n, c, h, w)``.

        Examples
        --------
        >>> import svdlens as sl
        >>> images = sl.diffusion.load("builtin").sample(n=2, seed=0, steps=2)
        >>> images.shape, bool(images.min() >= 0 and images.max() <= 1)
        ((2, 32, 32), True)
        """
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, self.channels, self.size, self.size, generator=g).to(self.device)
        return self.generate(noise, 1.0, steps, progress=progress)

    def noisy_sample(self, seed: int, t: float = DEFAULT_T, steps: int = DEFAULT_STEPS) -> torch.Tensor:
        """x_t on the way from noise (seed) to an image: where a generated sample passes at t.

        Parameters
        ----------
        seed : int
            Seed of the noise at t = 1.
        t : float
            Where to stop, in (0, 1].
        steps : int
            DDIM steps of the whole way from t = 1 to 0 (those above t are taken).

        Returns
        -------
        torch.Tensor
            ``(1, C, S, S)`` x_t in model space.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").noisy_sample(0, t=0.6, steps=2).shape
        torch.Size([1, 1, 32, 32])
        """
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(1, self.channels, self.size, self.size, generator=g).to(self.device)
        stop = self.t_index(t)
        current = self.T - 1
        for nxt in self.timesteps(1.0, steps)[::-1][1:]:
            nxt = max(nxt, stop)
            x = self._step(x, current, nxt)
            current = nxt
            if current == stop:
                break
        return x

    # --------------------------------------------------------------- h-space
    def t_index(self, t: float) -> int:
        """The integer timestep where x_t is: ``⌊t·T⌋ − 1``, rounded.

        Parameters
        ----------
        t : float
            How far into the diffusion, in (0, 1].

        Returns
        -------
        int
            The timestep, in ``[0, T)``.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").t_index(0.6)
        599
        """
        return self.timesteps(t, 1)[-1]

    def h_map(self, t: float = DEFAULT_T) -> LayerMap:
        """f: x_t ↦ h, the mid-block output at timestep t (the "semantic space").

        Parameters
        ----------
        t : float
            Where x_t is in the diffusion, in (0, 1].

        Returns
        -------
        LayerMap
            The map, to give to :func:`svdlens.jacobian` or :func:`svdlens.local_basis`.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").h_map(0.6)
        layer_map(UNet2DModel, 'mid_block', timestep=599)
        """
        return layer_map(self.unet, "mid_block", timestep=self.t_index(t))

    def directions(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        *,
        seed: int | None = None,
        t: float = DEFAULT_T,
        k: int = DEFAULT_K,
        steps: int = DEFAULT_STEPS,
        xt: torch.Tensor | None = None,
        **basis_options: Any,
    ) -> LocalBasis:
        """The local basis of x_t ↦ h at an image's (or a seed's) x_t.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            An image in [0, 1], inverted to x_t. Give exactly one of ``image``, ``seed``, ``xt``.
        seed : int, optional
            Take x_t where the sample generated from this seed passes at t.
        t : float
            Where x_t is in the diffusion, in (0, 1].
        k : int
            How many singular triplets.
        steps : int
            DDIM steps that make x_t.
        xt : torch.Tensor, optional
            x_t itself, already made.
        **basis_options
            Passed to :func:`svdlens.local_basis` (``tol``, ``method``, ``cache_dir``, ...).

        Returns
        -------
        LocalBasis
            The top-k triplets of ∂h/∂x_t, with ``x``, ``t`` and ``steps`` filled in.

        Raises
        ------
        SvdlensError
            Neither or both of ``image`` and ``seed`` (without ``xt``).
        """
        if xt is None:
            if (image is None) == (seed is None):
                raise SvdlensError("give either an image or a seed")
            xt = self.invert(image, t, steps) if seed is None else self.noisy_sample(seed, t, steps)  # type: ignore[arg-type]  # image is given when seed is not
        basis = local_basis(self.h_map(t), xt, k=k, **basis_options)
        basis.t, basis.steps = t, steps
        return basis

    def edit(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        v: torch.Tensor | np.ndarray | None = None,
        strengths: Sequence[float] = (-2, 0, 2),
        *,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        xt: torch.Tensor | None = None,
        guidance: int = 0,
        guidance_scale: float = 1.0,
    ) -> np.ndarray:
        """Images for x_t + γ·v, one per strength γ, denoised to t = 0: shape (len(strengths), ...).

        Strengths are denoised ``EDIT_BATCH`` at a time, so memory does not grow with their number.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            One image in [0, 1], inverted to x_t (unless ``xt`` is given).
        v : torch.Tensor or numpy.ndarray
            The direction at x_t (``basis.v[0]``, say), of x_t's shape for one image.
        strengths : sequence of float
            The strengths γ, 1 to ``MAX_STRENGTHS`` of them.
        t : float
            Where x_t is in the diffusion, in (0, 1].
        steps : int
            DDIM steps each way.
        xt : torch.Tensor, optional
            x_t itself, instead of ``image``.
        guidance : int
            0: the plain move. More: x-space guidance instead, repeating
            x ← x + s·(ε(x + γv, t) − ε(x, t)) that many times, then denoising.
        guidance_scale : float
            s, the step of the guidance.

        Returns
        -------
        numpy.ndarray
            ``(len(strengths), h, w)`` (or ``(len(strengths), c, h, w)``) images in [0, 1].

        Raises
        ------
        SvdlensError
            No ``v``, too many or too few strengths, or a strength, guidance or scale that is
            not a finite number in range.

        Examples
        --------
        >>> import torch, svdlens as sl
        >>> pipe = sl.diffusion.load("builtin")
        >>> xt = pipe.noisy_sample(0, t=0.6, steps=2)
        >>> pipe.edit(xt=xt, v=torch.ones(1, 32, 32) / 32, strengths=[-2, 0, 2], t=0.6, steps=2).shape
        (3, 32, 32)
        """
        if v is None:
            raise SvdlensError("give a direction v (e.g. basis.v[0])")
        strengths = [check_float("strength", g) for g in strengths]
        if not 1 <= len(strengths) <= MAX_STRENGTHS:
            raise InvalidParameterError(f"give 1 to {MAX_STRENGTHS} strengths; got {len(strengths)}")
        guidance = check_int("guidance", guidance, low=0)
        guidance_scale = check_float("guidance_scale", guidance_scale)
        xt = self.invert(image, t, steps) if xt is None else xt  # type: ignore[arg-type]  # image or xt is given
        v = torch.as_tensor(v, dtype=torch.float32).to(self.device).reshape(xt.shape[1:])
        ti = self.t_index(t)
        images = []
        for start in range(0, len(strengths), EDIT_BATCH):
            moved = []
            for g in strengths[start : start + EDIT_BATCH]:
                if guidance:
                    x = xt.clone()
                    for _ in range(guidance):
                        x = x + guidance_scale * (self.eps(x + g * v, ti) - self.eps(x, ti))
                else:
                    x = xt + g * v
                moved.append(x)
            images.append(self.generate(torch.cat(moved), t, steps))
        return np.concatenate(images)

    def transport(
        self,
        basis_from: LocalBasis,
        i: int,
        targets: list[LocalBasis],
        *,
        method: str = "project",
        damp: float | None = None,
    ) -> list[Transported]:
        """Direction i of one sample carried to each target: a list of ``Transported``.

        Parameters
        ----------
        basis_from : LocalBasis
            The source sample's local basis.
        i : int
            Which of its directions: ``basis_from.u[i]`` is carried.
        targets : list of LocalBasis
            The target samples' local bases (from :meth:`directions`).
        method : {"project", "lsqr"}
            As for :func:`svdlens.transport`. For "lsqr", a target read back from a cache gets
            its Jacobian again from its x_t and t.
        damp : float, optional
            As for :func:`svdlens.transport`.

        Returns
        -------
        list of Transported
            One per target, in order.

        Raises
        ------
        SvdlensError
            For "lsqr", a target without its x_t and t; anything :func:`svdlens.transport` refuses.
        """
        out = []
        for b in targets:
            J = None
            if method == "lsqr" and b.jacobian is None:
                if b.x is None or b.t is None:
                    raise SvdlensError(
                        "method='lsqr' needs each target's x_t and t (bases from pipe.directions have them)"
                    )
                J = jacobian(self.h_map(b.t), b.x)
            out.append(transport(basis_from.u[i], b, method=method, damp=damp, jacobian=J))
        return out

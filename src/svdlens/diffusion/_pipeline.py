"""A diffusion model for the method: DDIM both ways with the model's own scheduler, h-space tools.

Park et al. (2023), "Understanding the Latent Space of Diffusion Models through the Lens of
Riemannian Geometry": invert an image to x_t with deterministic DDIM (Song et al. 2021, eta = 0),
take the local basis of f: x_t ↦ h (the U-Net's mid-block, its "semantic space"), move along a
right singular vector v and denoise.

Every DDIM step is a step of diffusers' own ``DDIMScheduler`` (sampling) or
``DDIMInverseScheduler`` (inversion), built from the model's scheduler config, so that
``prediction_type``, ``clip_sample``, thresholding, ``timestep_spacing`` and ``steps_offset``
are those of diffusers. A latent model (Stable Diffusion) works on VAE latents, scaled by the
VAE's ``scaling_factor``; its prompts go through diffusers' ``encode_prompt`` and classifier-free
guidance is combined as diffusers' ``StableDiffusionPipeline`` does.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._defaults import DEFAULT_GUIDANCE, DEFAULT_K, DEFAULT_STEPS, DEFAULT_T, MAX_GUIDANCE, MAX_STEPS, MAX_STRENGTHS
from .._progress import Progress, report
from .._validation import check_float, check_fraction, check_int
from ..exceptions import InputNote, InvalidParameterError, ModelLoadError, SvdlensError
from ..linalg import principal_angles
from ..nets import LayerMap, LocalBasis, Transported, jacobian, layer_map, local_basis, transport

__all__ = ["Pipeline", "FacePipeline", "Conditioning", "PromptComparison", "check_scheduler", "EDIT_BATCH"]

DiffusersModel = Any
"""A diffusers or transformers model (typed loosely: their own annotations do not type-check)."""

EDIT_BATCH = 8  # strengths denoised together in edit(): memory stays that of 8 images

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")
# Settings of other schedulers that change the noise levels; diffusers' DDIM would silently drop them.
NOT_DDIM = ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_dynamic_shifting")


def check_scheduler(config: Any) -> None:
    """Refuse, by name, a scheduler config that diffusers' DDIM cannot run as the model was trained.

    Parameters
    ----------
    config : mapping
        The scheduler's config (``scheduler.config`` or the parsed ``scheduler_config.json``).

    Raises
    ------
    ModelLoadError
        A flow-matching scheduler, a ``prediction_type`` other than epsilon, v_prediction or
        sample, an unknown ``timestep_spacing``, or a sigma schedule (Karras, exponential, beta)
        that DDIM would ignore.

    Examples
    --------
    >>> check_scheduler({"prediction_type": "v_prediction", "timestep_spacing": "trailing"})
    >>> check_scheduler({"prediction_type": "flow"})
    Traceback (most recent call last):
    ...
    svdlens.exceptions.ModelLoadError: the model's scheduler has prediction_type='flow'; diffusers' DDIM supports epsilon, v_prediction, sample
    """
    name = str(config.get("_class_name") or "")
    if "FlowMatch" in name or config.get("shift") is not None and "Flow" in name:
        raise ModelLoadError(f"the model's scheduler is a {name} (flow matching); svdlens runs DDIM only")
    settings = {
        "prediction_type": (config.get("prediction_type", "epsilon"), PREDICTION_TYPES),
        "timestep_spacing": (config.get("timestep_spacing", "leading"), TIMESTEP_SPACINGS),
    }
    for key, (value, allowed) in settings.items():
        if value not in allowed:
            raise ModelLoadError(
                f"the model's scheduler has {key}={value!r}; diffusers' DDIM supports {', '.join(allowed)}"
            )
    for key in NOT_DDIM:
        if config.get(key):
            raise ModelLoadError(
                f"the model's scheduler has {key}=True, a sigma schedule diffusers' DDIM does not follow; "
                f"set {key} to false in scheduler_config.json to sample with the plain DDIM schedule"
            )


@dataclass
class Conditioning:
    """Text embeddings for a batch: the prompt's, the negative prompt's, and the guidance scale.

    Made by :meth:`Pipeline.conditioning`.

    Attributes
    ----------
    cond : torch.Tensor
        ``(n, L, D)`` the prompt's embeddings.
    uncond : torch.Tensor or None
        ``(n, L, D)`` the negative (or empty) prompt's embeddings; None without guidance.
    scale : float
        The classifier-free guidance scale; it is applied only when above 1, as in diffusers.
    prompt : str
        The prompt.
    """

    cond: torch.Tensor
    uncond: torch.Tensor | None
    scale: float
    prompt: str


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


class Pipeline:
    """A diffusion U-Net with its scheduler (and, for Stable Diffusion, VAE and text encoder).

    Made by :func:`svdlens.diffusion.load`. Images go in and come out as floats in [0, 1].
    The *model space* is where x_t lives: pixels in [−1, 1] for a pixel DDPM, the VAE's
    scaled latents for Stable Diffusion.

    Parameters
    ----------
    unet : diffusers.UNet2DModel or diffusers.UNet2DConditionModel
        The denoiser; it is moved to ``device`` and ``dtype``, put in eval mode and frozen.
    scheduler : diffusers.DDIMScheduler
        Its schedule; an inverse ``DDIMInverseScheduler`` is made from the same config.
    vae : diffusers.AutoencoderKL, optional
        For a latent model: images ↔ latents.
    text_encoder : transformers.CLIPTextModel, optional
        For a text model: prompts → embeddings.
    tokenizer : transformers.CLIPTokenizer, optional
        The text encoder's tokenizer.
    device : torch.device or str, optional
        Where the model runs (default: CPU).
    dtype : torch.dtype, optional
        The weights' dtype (default float32).
    source : str
        Where the model came from (``"builtin"``, a folder, a hub id), so that it can be
        loaded again elsewhere (a dask worker, say).

    Attributes
    ----------
    T : int
        The number of training timesteps.
    alphas : torch.Tensor
        ``(T,)`` ᾱ_t, the cumulative products of the schedule, float64.
    channels, size : int
        The model space's channels and (square) size: x_t is ``(n, channels, size, size)``.
    image_channels, image_size : int
        The images' channels and size (``size`` times the VAE's downsampling for latent models).
    is_latent : bool
        Whether x_t lives in a VAE's latent space.
    has_text : bool
        Whether the U-Net is conditioned on a prompt.

    Raises
    ------
    ModelLoadError
        A scheduler setting diffusers' DDIM cannot honour (see :func:`check_scheduler`), or a
        text model without its text encoder.
    """

    def __init__(
        self,
        unet: DiffusersModel,
        scheduler: DiffusersModel,
        *,
        vae: DiffusersModel = None,
        text_encoder: DiffusersModel = None,
        tokenizer: DiffusersModel = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        source: str = "",
    ) -> None:
        from diffusers import DDIMInverseScheduler, DDIMScheduler

        self.device = torch.device(device or "cpu")
        self.dtype = dtype or torch.float32
        self.source = source
        self.unet = _placed(unet, self.device, self.dtype)
        check_scheduler(scheduler.config)
        self.scheduler = DDIMScheduler.from_config(scheduler.config)
        self.inverse_scheduler = DDIMInverseScheduler.from_config(
            {key: value for key, value in scheduler.config.items() if key in _init_keys(DDIMInverseScheduler)}
        )
        self.vae = None if vae is None else _placed(vae, self.device, self.dtype)
        self.text_encoder = None if text_encoder is None else _placed(text_encoder, self.device, self.dtype)
        self.tokenizer = tokenizer
        self.is_latent = self.vae is not None
        self.has_text = getattr(unet.config, "cross_attention_dim", None) is not None
        if self.has_text and (self.text_encoder is None or self.tokenizer is None):
            raise ModelLoadError("this U-Net is conditioned on text, but no text encoder and tokenizer came with it")
        self.T = int(self.scheduler.config.num_train_timesteps)
        self.alphas = self.scheduler.alphas_cumprod.to(torch.float64)
        cfg = unet.config
        self.channels = int(cfg.in_channels)
        self.size = int(cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0])
        self.vae_scale = 2 ** (len(self.vae.config.block_out_channels) - 1) if self.vae is not None else 1
        self.image_size = self.size * self.vae_scale
        self.image_channels = int(self.vae.config.in_channels) if self.vae is not None else self.channels
        self._sd: Any = None  # a diffusers StableDiffusionPipeline over the same modules, for encode_prompt
        self._unet32: Any = None  # a float32 copy for Jacobian products when the weights are half precision

    def __repr__(self) -> str:
        kind = "latent, text" if self.has_text else "latent" if self.is_latent else "pixel"
        return f"Pipeline({self.source or type(self.unet).__name__!r}, {kind}, x_t {self.channels}×{self.size}×{self.size})"

    # ---------------------------------------------------------------- images in/out
    def to_model(self, images: ArrayLike | torch.Tensor) -> torch.Tensor:
        """Images (n, h, w) or (n, c, h, w) in [0, 1] → pixels (n, c, S, S) in [−1, 1], with notes.

        For a pixel model this is the model space; a latent model encodes it with
        :meth:`encode`.

        Parameters
        ----------
        images : array_like or torch.Tensor
            ``(n, h, w)``, ``(n, c, h, w)``, one ``(h, w)`` image or one ``(c, h, w)`` image, in [0, 1].

        Returns
        -------
        torch.Tensor
            ``(n, image_channels, image_size, image_size)`` in [−1, 1], on the pipeline's
            device, in its dtype.

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
        channels, size = self.image_channels, self.image_size
        if x.ndim == 2:
            x = x[None, None]
        elif x.ndim == 3:
            x = x[:, None] if channels == 1 or x.shape[0] not in (1, 3) else x[None]
        if x.ndim != 4:
            raise SvdlensError(f"images must be (n, h, w) or (n, c, h, w); got shape {tuple(x.shape)}")
        if x.shape[1] != channels:
            if channels == 1 and x.shape[1] in (3, 4):
                warnings.warn("colour images converted to grayscale for this 1-channel model", InputNote, stacklevel=3)
                x = (x[:, :3] * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
            elif channels == 3 and x.shape[1] in (1, 4):
                what = "grayscale images repeated to" if x.shape[1] == 1 else "the alpha channel dropped for"
                warnings.warn(f"{what} 3 channels for this colour model", InputNote, stacklevel=3)
                x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x[:, :3]
            else:
                raise SvdlensError(f"images have {x.shape[1]} channels; the model takes {channels}")
        if x.shape[-2:] != (size, size):
            fit = f" (the VAE takes {size}×{size})" if self.is_latent else ""
            warnings.warn(
                f"images of {x.shape[-2]}×{x.shape[-1]} resized to the model's {size}×{size}{fit}",
                InputNote,
                stacklevel=3,
            )
            x = torch.nn.functional.interpolate(
                x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
            )
        if not bool(torch.isfinite(x).all()):
            raise SvdlensError("images contain NaN or Inf")
        return (x * 2 - 1).to(self.device, self.dtype)

    def encode(self, images: ArrayLike | torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] → x_0 in model space: pixels in [−1, 1], or the VAE's scaled latent means.

        Parameters
        ----------
        images : array_like or torch.Tensor
            As :meth:`to_model` takes them.

        Returns
        -------
        torch.Tensor
            ``(n, channels, size, size)``.

        Examples
        --------
        >>> import numpy as np, svdlens as sl
        >>> sl.diffusion.load("builtin").encode(np.zeros((1, 32, 32))).unique().tolist()
        [-1.0]
        """
        x = self.to_model(images)
        if self.vae is None:
            return x
        with torch.no_grad():
            latents = self.vae.encode(x).latent_dist.mean
        shift = getattr(self.vae.config, "shift_factor", None) or 0.0
        return (latents - shift) * self.vae.config.scaling_factor

    def to_images(self, x: torch.Tensor) -> np.ndarray:
        """Model space → images in [0, 1]: (n, h, w) for one channel, else (n, c, h, w).

        A latent model decodes with its VAE (latents divided by the scaling factor), as
        diffusers' pipelines do.

        Parameters
        ----------
        x : torch.Tensor
            ``(n, channels, size, size)`` in model space; pixel values outside [−1, 1] are clipped.

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
        x = x.detach()
        if self.vae is not None:
            shift = getattr(self.vae.config, "shift_factor", None) or 0.0
            with torch.no_grad():
                x = self.vae.decode(
                    x.to(self.device, self.dtype) / self.vae.config.scaling_factor + shift, return_dict=False
                )[0]
        img = (x.float().cpu() / 2 + 0.5).clamp(0, 1).numpy()
        return img[:, 0] if img.shape[1] == 1 else img

    # ------------------------------------------------------------------- text
    def conditioning(
        self,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float | None = None,
        n: int = 1,
    ) -> Conditioning | None:
        """Text embeddings for ``n`` samples (None for a model without text), via diffusers' ``encode_prompt``.

        Parameters
        ----------
        prompt : str, optional
            The prompt; None is the empty prompt ``""``.
        negative_prompt : str, optional
            What guidance steers away from; None is the empty prompt.
        guidance_scale : float, optional
            Classifier-free guidance, 0 to ``MAX_GUIDANCE``; applied only above 1. None is 1.
        n : int
            The batch size.

        Returns
        -------
        Conditioning or None
            None for a model that takes no text.

        Raises
        ------
        InvalidParameterError
            A prompt or a guidance scale other than 1 for a model without text, a prompt that
            is not a string, or a scale out of range.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").conditioning() is None
        True
        """
        for name, value in (("prompt", prompt), ("negative_prompt", negative_prompt)):
            if value is not None and not isinstance(value, str):
                raise InvalidParameterError(f"{name} must be a string; got {type(value).__name__}")
        scale = (
            1.0 if guidance_scale is None else check_float("guidance_scale", guidance_scale, low=0.0, high=MAX_GUIDANCE)
        )
        if not self.has_text:
            if prompt is not None or negative_prompt is not None or scale != 1.0:
                asked = (
                    "prompt"
                    if prompt is not None
                    else "negative_prompt"
                    if negative_prompt is not None
                    else "guidance_scale"
                )
                raise InvalidParameterError(
                    f"{asked} applies only to text-conditioned models (Stable Diffusion); this model takes no text"
                )
            return None
        guided = scale > 1 and getattr(self.unet.config, "time_cond_proj_dim", None) is None
        with torch.no_grad():
            cond, uncond = self._stable_diffusion().encode_prompt(
                prompt or "", self.device, n, guided, negative_prompt=negative_prompt
            )
        return Conditioning(cond, uncond if guided else None, scale, prompt or "")

    def _stable_diffusion(self):
        """diffusers' StableDiffusionPipeline over the same modules (no copies), for ``encode_prompt``."""
        if self._sd is None:
            with quiet_loading():  # importing it logs notes about image processors the method never uses
                from diffusers import StableDiffusionPipeline

            self._sd = StableDiffusionPipeline(
                vae=self.vae,
                text_encoder=self.text_encoder,
                tokenizer=self.tokenizer,
                unet=self.unet,
                scheduler=self.scheduler,
                safety_checker=None,
                feature_extractor=None,
                requires_safety_checker=False,
            )
            self._sd.set_progress_bar_config(disable=True)
        return self._sd

    def model_output(self, x: torch.Tensor, timestep: int, cond: Conditioning | None = None) -> torch.Tensor:
        """The U-Net's prediction at ``timestep`` (ε, v or x₀, as the scheduler says), with guidance.

        Classifier-free guidance as diffusers does it: one batch of [negative, prompt], then
        ``uncond + scale·(cond − uncond)``.

        Parameters
        ----------
        x : torch.Tensor
            ``(n, channels, size, size)`` in model space.
        timestep : int
            The integer timestep, in ``[0, T)``.
        cond : Conditioning, optional
            The text embeddings (from :meth:`conditioning`); None for a model without text.

        Returns
        -------
        torch.Tensor
            ``(n, channels, size, size)``.
        """
        with torch.no_grad():
            if cond is None:
                return self.unet(x, timestep).sample
            if cond.uncond is None:
                return self.unet(x, timestep, encoder_hidden_states=_batch(cond.cond, len(x))).sample
            both = torch.cat([_batch(cond.uncond, len(x)), _batch(cond.cond, len(x))])
            uncond, text = self.unet(torch.cat([x, x]), timestep, encoder_hidden_states=both).sample.chunk(2)
            return uncond + cond.scale * (text - uncond)

    def eps(self, x: torch.Tensor, timestep: int) -> torch.Tensor:
        """The model's noise prediction at ``timestep`` (unconditional), whatever its ``prediction_type``.

        Parameters
        ----------
        x : torch.Tensor
            ``(n, channels, size, size)`` noisy samples in model space.
        timestep : int
            The integer timestep, in ``[0, T)``.

        Returns
        -------
        torch.Tensor
            ``(n, channels, size, size)`` the predicted noise ε.
        """
        out = self.model_output(x, timestep, self.conditioning() if self.has_text else None)
        a = self.alphas[timestep].to(out.dtype)
        kind = self.scheduler.config.prediction_type
        if kind == "v_prediction":
            return a.sqrt() * out + (1 - a).sqrt() * x
        if kind == "sample":
            return (x - a.sqrt() * out) / (1 - a).sqrt()
        return out

    # ------------------------------------------------------------------- DDIM
    def schedule(self, steps: int) -> list[int]:
        """All ``steps`` sampling timesteps, descending, as the scheduler's ``set_timesteps`` makes them.

        Parameters
        ----------
        steps : int
            DDIM steps over the whole diffusion, at most ``T``.

        Returns
        -------
        list of int
            The timesteps (``timestep_spacing`` and ``steps_offset`` honoured).

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").schedule(5)
        [800, 600, 400, 200, 0]
        """
        steps = check_int("steps", steps, high=min(MAX_STEPS, self.T))
        self.scheduler.set_timesteps(steps)
        return [int(s) for s in self.scheduler.timesteps]

    def timesteps(self, t: float, steps: int) -> list[int]:
        """The sampling timesteps from x_t down to the image: those of :meth:`schedule` at or below t·T.

        ``t = 1`` gives the whole schedule, as diffusers' pipelines run it; a smaller t starts
        lower on the same grid (at least one step), as diffusers' image-to-image does.

        Parameters
        ----------
        t : float
            How far into the diffusion, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion (``num_inference_steps``).

        Returns
        -------
        list of int
            Descending timesteps; the first is where x_t is (:meth:`t_index`).

        Raises
        ------
        InvalidParameterError
            ``t`` outside (0, 1] or ``steps`` not a whole number in range.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").timesteps(0.6, 5)
        [600, 400, 200, 0]
        """
        top = check_fraction("t", t) * self.T
        full = self.schedule(steps)
        return [s for s in full if s <= top] or full[-1:]

    def t_index(self, t: float, steps: int = DEFAULT_STEPS) -> int:
        """The timestep where x_t is: the first of :meth:`timesteps`.

        Parameters
        ----------
        t : float
            How far into the diffusion, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion.

        Returns
        -------
        int
            The timestep, in ``[0, T)``.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").t_index(0.6, steps=30)  # the grid 0, 33, 66, ...
        594
        """
        return self.timesteps(t, steps)[0]

    def denoise_states(
        self,
        xt: torch.Tensor,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        *,
        cond: Conditioning | None = None,
        progress: Progress = None,
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """Each DDIM sampling step from x_t: ``(timestep, x after the step)``, ending at the image's x_0.

        Each step is ``DDIMScheduler.step`` with eta = 0 on the model's output at that timestep.

        Parameters
        ----------
        xt : torch.Tensor
            ``(n, channels, size, size)`` x_t in model space.
        t : float
            Where ``xt`` is, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion.
        cond : Conditioning, optional
            Text embeddings and guidance (from :meth:`conditioning`).
        progress : callable, optional
            ``progress(done, total, label)`` after each step.

        Yields
        ------
        tuple of (int, torch.Tensor)
            The timestep just taken and the sample after it.
        """
        ts = self.timesteps(t, steps)
        x = torch.as_tensor(xt).to(self.device, self.dtype)
        report(progress, 0, len(ts), "DDIM sampling")
        for i, s in enumerate(ts, start=1):
            x = self._down(x, s, cond)
            report(progress, i, len(ts), "DDIM sampling")
            yield s, x

    def _down(self, x: torch.Tensor, timestep: int, cond: Conditioning | None) -> torch.Tensor:
        """One sampling step from ``timestep``: ``DDIMScheduler.step`` with eta = 0 (after ``set_timesteps``)."""
        return self.scheduler.step(self.model_output(x, timestep, cond), timestep, x, eta=0.0).prev_sample

    def invert(
        self,
        images: ArrayLike | torch.Tensor,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        *,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float = 1.0,
        progress: Progress = None,
    ) -> torch.Tensor:
        """Images → x_t by DDIM inversion (eta = 0), with diffusers' ``DDIMInverseScheduler`` steps.

        The inversion climbs the timesteps of :meth:`timesteps` in reverse, so that
        :meth:`generate` from the result walks back down the same grid.

        Parameters
        ----------
        images : array_like or torch.Tensor
            Images in [0, 1], as :meth:`to_model` takes them.
        t : float
            How far into the diffusion to go, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion (those up to t are taken).
        prompt, negative_prompt : str, optional
            For a text model (None is the empty prompt).
        guidance_scale : float
            Classifier-free guidance during inversion; 1 (no guidance) as in Park et al.'s DDIM
            inversion.
        progress : callable, optional
            ``progress(done, total, label)`` after each step.

        Returns
        -------
        torch.Tensor
            ``(n, channels, size, size)`` x_t in model space.

        Examples
        --------
        >>> import svdlens as sl
        >>> pipe = sl.diffusion.load("builtin")
        >>> pipe.invert(pipe.sample(n=2, steps=2), t=0.6, steps=2).shape
        torch.Size([2, 1, 32, 32])
        """
        ts = self.timesteps(t, steps)[::-1]
        x = self.encode(images)
        cond = self.conditioning(prompt, negative_prompt, guidance_scale, n=len(x))
        inverse = self.inverse_scheduler
        inverse.num_inference_steps = len(self.scheduler.timesteps)
        inverse.timesteps = self.scheduler.timesteps.flip(0)
        report(progress, 0, len(ts), "DDIM inversion")
        for i, s in enumerate(ts, start=1):
            x = inverse.step(self.model_output(x, s, cond), s, x).prev_sample
            report(progress, i, len(ts), "DDIM inversion")
        return x

    def generate(
        self,
        xt: torch.Tensor,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        *,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float | None = None,
        progress: Progress = None,
    ) -> np.ndarray:
        """x_t → images by DDIM sampling from t down to 0 (eta = 0), then the VAE for a latent model.

        With ``t=1.0`` this is diffusers' own ``DDIMPipeline`` / ``StableDiffusionPipeline``
        (eta = 0) from the same starting noise.

        Parameters
        ----------
        xt : torch.Tensor
            ``(n, channels, size, size)`` x_t in model space (from :meth:`invert`, say).
        t : float
            Where ``xt`` is in the diffusion, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion (those from t down are taken).
        prompt, negative_prompt : str, optional
            For a text model (None is the empty prompt).
        guidance_scale : float, optional
            Classifier-free guidance; default ``DEFAULT_GUIDANCE`` (7.5) for a text model.
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
        x = torch.as_tensor(xt)
        cond = self.conditioning(prompt, negative_prompt, self._guidance(guidance_scale), n=len(x))
        for _, state in self.denoise_states(x, t, steps, cond=cond, progress=progress):
            x = state
        return self.to_images(x)

    def _guidance(self, guidance_scale: float | None) -> float | None:
        """The sampling guidance: the default for a text model, none for others."""
        return (DEFAULT_GUIDANCE if self.has_text else None) if guidance_scale is None else guidance_scale

    def noise(self, n: int = 1, seed: int = 0) -> torch.Tensor:
        """Starting noise x_T for ``n`` samples, drawn on the CPU from ``seed`` as diffusers' ``randn_tensor`` does.

        Parameters
        ----------
        n : int
            How many samples.
        seed : int
            The seed of a ``torch.Generator``.

        Returns
        -------
        torch.Tensor
            ``(n, channels, size, size)`` on the pipeline's device, in its dtype.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").noise(2, seed=0).shape
        torch.Size([2, 1, 32, 32])
        """
        n = check_int("n", n)
        g = torch.Generator().manual_seed(check_int("seed", seed, low=0))
        shape = (n, self.channels, self.size, self.size)
        return torch.randn(shape, generator=g, dtype=self.dtype).to(self.device) * self.scheduler.init_noise_sigma

    def sample(
        self,
        n: int = 16,
        seed: int = 0,
        steps: int = DEFAULT_STEPS,
        *,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float | None = None,
        latents: torch.Tensor | None = None,
        progress: Progress = None,
    ) -> np.ndarray:
        """New images from pure noise at t = 1.

        Parameters
        ----------
        n : int
            How many images (ignored when ``latents`` is given).
        seed : int
            Seed of the noise (:meth:`noise`); the same seed gives the same images.
        steps : int
            DDIM steps from t = 1 to 0.
        prompt, negative_prompt : str, optional
            For a text model (None is the empty prompt).
        guidance_scale : float, optional
            Classifier-free guidance; default ``DEFAULT_GUIDANCE`` (7.5) for a text model.
        latents : torch.Tensor, optional
            The starting noise x_T itself, ``(n, channels, size, size)``, to compare with
            other tools.
        progress : callable, optional
            ``progress(done, total, label)`` after each step.

        Returns
        -------
        numpy.ndarray
            Images in [0, 1]: ``(n, h, w)`` for one channel, else ``(n, c, h, w)``.

        Raises
        ------
        SvdlensError
            ``latents`` of another shape than x_T's.

        Examples
        --------
        >>> import svdlens as sl
        >>> images = sl.diffusion.load("builtin").sample(n=2, seed=0, steps=2)
        >>> images.shape, bool(images.min() >= 0 and images.max() <= 1)
        ((2, 32, 32), True)
        """
        if latents is None:
            x = self.noise(n, seed)
        else:
            x = torch.as_tensor(latents).to(self.device, self.dtype)
            if x.ndim != 4 or tuple(x.shape[1:]) != (self.channels, self.size, self.size):
                raise SvdlensError(
                    f"latents must be (n, {self.channels}, {self.size}, {self.size}); got {tuple(x.shape)}"
                )
        return self.generate(
            x,
            1.0,
            steps,
            prompt=prompt,
            negative_prompt=negative_prompt,
            guidance_scale=guidance_scale,
            progress=progress,
        )

    def noisy_sample(
        self,
        seed: int,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        *,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float | None = None,
    ) -> torch.Tensor:
        """x_t on the way from noise (seed) to an image: where a generated sample passes at t.

        ``generate(noisy_sample(seed, t), t)`` is ``sample(1, seed)``: the same steps, split at t.

        Parameters
        ----------
        seed : int
            Seed of the noise at t = 1.
        t : float
            Where to stop, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion (those above t are taken).
        prompt, negative_prompt : str, optional
            For a text model (None is the empty prompt).
        guidance_scale : float, optional
            Classifier-free guidance; default ``DEFAULT_GUIDANCE`` for a text model.

        Returns
        -------
        torch.Tensor
            ``(1, channels, size, size)`` x_t in model space.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").noisy_sample(0, t=0.6, steps=2).shape
        torch.Size([1, 1, 32, 32])
        """
        x = self.noise(1, seed)
        stop = self.t_index(t, steps)
        cond = self.conditioning(prompt, negative_prompt, self._guidance(guidance_scale))
        for s in self.schedule(steps):
            if s <= stop:
                break
            x = self._down(x, s, cond)
        return x

    # --------------------------------------------------------------- h-space
    def h_map(
        self, t: float = DEFAULT_T, steps: int = DEFAULT_STEPS, *, prompt: str | None = None, layer: str | None = None
    ) -> LayerMap:
        """f: x_t ↦ h, the output of a U-Net block at x_t's timestep (the "semantic space").

        For a text model the map is the prompt-conditioned U-Net (no guidance). Its Jacobian
        products run in float32: with half-precision weights, a float32 copy of the U-Net is
        made for them (once), since float16 JVPs lose the smaller singular values.

        Parameters
        ----------
        t : float
            Where x_t is in the diffusion, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion (they fix x_t's timestep).
        prompt : str, optional
            For a text model (None is the empty prompt).
        layer : str, optional
            The block, named as in ``unet.named_modules()``; default ``"mid_block"`` (the
            bottleneck). ``"up_blocks.0"`` is another choice.

        Returns
        -------
        LayerMap
            The map, to give to :func:`svdlens.jacobian` or :func:`svdlens.local_basis`.

        Raises
        ------
        UnknownLayerError
            No such block; the message lists the nearest names.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").h_map(0.6)
        layer_map(UNet2DModel, 'mid_block', timestep=600)
        """
        unet = self.unet
        kwargs: dict[str, Any] = {"timestep": self.t_index(t, steps)}
        if self.has_text:
            cond = self.conditioning(prompt)
            assert cond is not None  # a text model always has its conditioning
            kwargs["encoder_hidden_states"] = cond.cond.float()
        else:
            self.conditioning(prompt)  # refuses a prompt for a model without text
        if self.dtype != torch.float32:
            if self._unet32 is None:
                self._unet32 = copy.deepcopy(self.unet).float()
            unet = self._unet32
        return layer_map(unet, layer or "mid_block", **kwargs)

    def directions(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        *,
        seed: int | None = None,
        t: float = DEFAULT_T,
        k: int = DEFAULT_K,
        steps: int = DEFAULT_STEPS,
        xt: torch.Tensor | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float | None = None,
        layer: str | None = None,
        **basis_options: Any,
    ) -> LocalBasis:
        """The local basis of x_t ↦ h at an image's (or a seed's) x_t.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            An image in [0, 1], inverted to x_t (guidance 1). Give exactly one of ``image``,
            ``seed``, ``xt``.
        seed : int, optional
            Take x_t where the sample generated from this seed passes at t.
        t : float
            Where x_t is in the diffusion, in (0, 1].
        k : int
            How many singular triplets.
        steps : int
            DDIM steps over the whole diffusion.
        xt : torch.Tensor, optional
            x_t itself, already made.
        prompt, negative_prompt : str, optional
            For a text model: the conditioning of the map (and of the inversion or sampling).
        guidance_scale : float, optional
            Guidance of the sampling that makes x_t from a ``seed``.
        layer : str, optional
            The U-Net block whose output is h (default ``"mid_block"``).
        **basis_options
            Passed to :func:`svdlens.local_basis` (``tol``, ``method``, ``cache_dir``, ...).

        Returns
        -------
        LocalBasis
            The top-k triplets of ∂h/∂x_t, with ``x``, ``t``, ``steps``, ``prompt`` and
            ``layer`` filled in.

        Raises
        ------
        SvdlensError
            Not exactly one of ``image``, ``seed`` and ``xt``.
        """
        if xt is None:
            if (image is None) == (seed is None):
                raise SvdlensError("give either an image or a seed")
            text = {"prompt": prompt, "negative_prompt": negative_prompt}
            if seed is None:
                xt = self.invert(image, t, steps, **text)  # type: ignore[arg-type]  # image is given when seed is not
            else:
                xt = self.noisy_sample(seed, t, steps, guidance_scale=guidance_scale, **text)
        f = self.h_map(t, steps, prompt=prompt, layer=layer)
        basis = local_basis(f, torch.as_tensor(xt).to(self.device, torch.float32), k=k, **basis_options)
        basis.t, basis.steps, basis.prompt, basis.layer = t, steps, prompt, f.layer
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
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float = 1.0,
        x_guidance: int = 0,
        x_guidance_scale: float = 1.0,
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
            DDIM steps over the whole diffusion.
        xt : torch.Tensor, optional
            x_t itself, instead of ``image``.
        prompt, negative_prompt : str, optional
            For a text model: the inversion's and the denoising's prompt.
        guidance_scale : float
            Classifier-free guidance of the denoising. The default 1 undoes the inversion
            (strength 0 gives the image back); more follows the prompt harder.
        x_guidance : int
            0: the plain move. More: x-space guidance instead, repeating
            x ← x + s·(ε(x + γv, t) − ε(x, t)) that many times, then denoising.
        x_guidance_scale : float
            s, the step of the x-space guidance.

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
        x_guidance = check_int("x_guidance", x_guidance, low=0)
        x_guidance_scale = check_float("x_guidance_scale", x_guidance_scale)
        text: dict[str, Any] = {"prompt": prompt, "negative_prompt": negative_prompt}
        xt = self.invert(image, t, steps, **text) if xt is None else torch.as_tensor(xt)  # type: ignore[arg-type]  # image or xt is given
        xt = xt.to(self.device, self.dtype)
        v = torch.as_tensor(v).to(self.device, self.dtype).reshape(xt.shape[1:])
        ti = self.t_index(t, steps)
        cond1 = self.conditioning(prompt, negative_prompt, None) if x_guidance else None
        images = []
        for start in range(0, len(strengths), EDIT_BATCH):
            moved = []
            for g in strengths[start : start + EDIT_BATCH]:
                x = xt.clone() if x_guidance else xt + g * v
                if x_guidance:
                    for _ in range(x_guidance):
                        x = x + x_guidance_scale * (
                            self.model_output(x + g * v, ti, cond1) - self.model_output(x, ti, cond1)
                        )
                moved.append(x)
            images.append(self.generate(torch.cat(moved), t, steps, guidance_scale=guidance_scale, **text))
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
            its Jacobian again from its x_t, t, steps, prompt and layer.
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
                f = self.h_map(b.t, b.steps or DEFAULT_STEPS, prompt=b.prompt, layer=b.layer)
                J = jacobian(f, b.x.to(self.device))
            out.append(transport(basis_from.u[i], b, method=method, damp=damp, jacobian=J))
        return out

    def compare_prompts(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        prompts: Sequence[str] = (),
        t: float = DEFAULT_T,
        k: int = DEFAULT_K,
        *,
        steps: int = DEFAULT_STEPS,
        xt: torch.Tensor | None = None,
        layer: str | None = None,
        progress: Progress = None,
        **basis_options: Any,
    ) -> PromptComparison:
        """How the prompt changes the local basis at one x_t (Park et al. 2023, Fig. 7).

        The image is inverted once, under the first prompt; then the local basis of x_t ↦ h
        is taken at that same x_t under each prompt, and the principal angles between every
        pair of bases are measured on the v side (directions in x_t) and the u side (in h).
        Small angles: the prompt hardly changes which directions matter.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            One image in [0, 1] (or give ``xt``).
        prompts : sequence of str
            Two or more prompts.
        t : float
            Where x_t is in the diffusion, in (0, 1].
        k : int
            The size of each basis.
        steps : int
            DDIM steps over the whole diffusion.
        xt : torch.Tensor, optional
            x_t itself, instead of ``image``.
        layer : str, optional
            The U-Net block whose output is h (default ``"mid_block"``).
        progress : callable, optional
            ``progress(done, total, label)`` after each basis.
        **basis_options
            Passed to :func:`svdlens.local_basis`.

        Returns
        -------
        PromptComparison
            The bases and the ``(P, P, k)`` principal angles on both sides.

        Raises
        ------
        InvalidParameterError
            A model without text, fewer than two prompts, or not exactly one of ``image`` and ``xt``.
        """
        prompts = list(prompts)
        if not self.has_text:
            raise InvalidParameterError("compare_prompts needs a text-conditioned model (Stable Diffusion)")
        if len(prompts) < 2 or not all(isinstance(p, str) for p in prompts):
            raise InvalidParameterError(f"give two or more prompts (strings); got {prompts!r}")
        if (image is None) == (xt is None):
            raise InvalidParameterError("give either an image or xt")
        if xt is None:
            xt = self.invert(image, t, steps, prompt=prompts[0])  # type: ignore[arg-type]  # image is given
        bases = []
        report(progress, 0, len(prompts), "local bases")
        for i, p in enumerate(prompts, start=1):
            bases.append(self.directions(xt=xt, t=t, k=k, steps=steps, prompt=p, layer=layer, **basis_options))
            report(progress, i, len(prompts), "local bases")
        P, kk = len(bases), min(b.k for b in bases)
        angles_v, angles_u = np.zeros((P, P, kk)), np.zeros((P, P, kk))
        for a in range(P):
            for b in range(P):
                angles_v[a, b] = principal_angles(bases[a].v, bases[b].v)[:kk]
                angles_u[a, b] = principal_angles(bases[a].u, bases[b].u)[:kk]
        return PromptComparison(prompts, bases, angles_v, angles_u)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No progress bars or info logs from diffusers and transformers while loading (svdlens reports its own)."""
    import diffusers
    import transformers

    bars = transformers.utils.logging.is_progress_bar_enabled()
    levels = diffusers.utils.logging.get_verbosity(), transformers.utils.logging.get_verbosity()
    transformers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers.utils.logging.set_verbosity(levels[0])
        transformers.utils.logging.set_verbosity(levels[1])
        if bars:
            transformers.utils.logging.enable_progress_bar()


def _init_keys(cls: type) -> set[str]:
    """The settings a scheduler class takes (from_config warns about any other key)."""
    return set(inspect.signature(cls).parameters) - {"self", "kwargs"}


def _placed(module: DiffusersModel, device: torch.device, dtype: torch.dtype) -> DiffusersModel:
    """A module on ``device`` in ``dtype`` (cast only when it differs), in eval mode and frozen."""
    module = module.to(device)
    if next(module.parameters()).dtype != dtype:
        module = module.to(dtype)
    return module.eval().requires_grad_(False)


def _batch(embeddings: torch.Tensor, n: int) -> torch.Tensor:
    """Embeddings for a batch of n (made for one sample, or already for n)."""
    return embeddings if len(embeddings) == n else embeddings[:1].expand(n, *embeddings.shape[1:])


FacePipeline = Pipeline
"""The earlier name of :class:`Pipeline` (it began with the built-in face model)."""

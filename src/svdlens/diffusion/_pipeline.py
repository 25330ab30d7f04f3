"""A diffusion model for the method: the face over its composed parts.

:class:`Pipeline` holds a model's modules and delegates each job to the part that owns it:

- ``_schedule``: the scheduler checks, and one frozen DDIM :class:`~._schedule.Grid` per call;
- ``_space``: images ↔ the model space (pixels, or the VAE's scaled latents);
- ``_text``: prompts, and classifier-free guidance as diffusers combines it;
- ``_ddim``: noise, inversion, generation and sampling, with diffusers' own schedulers;
- ``_hspace``: where a call starts (:class:`~._hspace.StartPoint`), the map x_t ↦ h, its local
  basis, edits, transport and prompt comparisons (Park et al. 2023);
- ``_modules``: where the modules are placed, and how they load quietly.

Each public method checks t and steps once, makes the call's grid, and hands both on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._defaults import DEFAULT_K, DEFAULT_STEPS, DEFAULT_T, INVERSION_REFINE, MAX_X_GUIDANCE
from .._progress import Progress, report
from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError
from ..nets import LayerMap, LocalBasis, Transported, local_basis
from ..nets._basis import DEFAULT_MAX_MEMORY
from ..nets._jacobian import parse_memory
from ._ddim import DDIM
from ._evolution import BasisEvolution, check_ts, evolution_of
from ._hspace import LOCAL_BASIS_DEFAULTS, GuidancePath, HSpace, PromptComparison, StartPoint
from ._local import Linearity, LocalDirections, RankProfile, X0Map, image_mask, model_mask
from ._local import linearity as _linearity
from ._local import local_directions as _local_directions
from ._local import local_settings as _local_settings
from ._local import rank_profile as _rank_profile
from ._local import transport_local as _transport_local
from ._modules import DiffusersModel, placed
from ._schedule import Grid, Schedule
from ._semantics import DEFAULT_EFFECT_STRENGTH, FactorEffects
from ._semantics import factor_effects as _factor_effects
from ._space import ModelSpace
from ._text import Conditioning, Text

__all__ = ["Pipeline", "FacePipeline"]

_METHOD = LOCAL_BASIS_DEFAULTS["method"]
_TOL = LOCAL_BASIS_DEFAULTS["tol"]
_JVP_MODE = LOCAL_BASIS_DEFAULTS["jvp_mode"]


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
    scheduler, inverse_scheduler : diffusers.DDIMScheduler, diffusers.DDIMInverseScheduler
        Made from the model's scheduler config. Calls never set their timesteps: each call
        walks a grid of its own, so calls with different ``steps`` do not disturb each other.

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
        self.device = torch.device(device or "cpu")
        self.dtype = dtype or torch.float32
        self.source = source
        self.unet = placed(unet, self.device, self.dtype)
        self.vae = None if vae is None else placed(vae, self.device, self.dtype)
        self.text_encoder = None if text_encoder is None else placed(text_encoder, self.device, self.dtype)
        self.tokenizer = tokenizer
        self._schedule = Schedule(scheduler)
        self._space = ModelSpace(self.unet, self.vae, self.device, self.dtype)
        self._text = Text(
            self.unet,
            self._schedule.sampler,
            vae=self.vae,
            text_encoder=self.text_encoder,
            tokenizer=tokenizer,
            device=self.device,
        )
        self._ddim = DDIM(self._schedule, self._space, self._text, device=self.device, dtype=self.dtype)
        self._hspace = HSpace(self.unet, self._schedule, self._text, self._ddim, dtype=self.dtype)
        self.scheduler = self._schedule.sampler
        self.inverse_scheduler = self._schedule.inverse
        self.T, self.alphas = self._schedule.T, self._schedule.alphas
        self.is_latent = self.vae is not None
        self.has_text = self._text.has_text
        self.channels, self.size = self._space.channels, self._space.size
        self.vae_scale = self._space.vae_scale
        self.image_channels, self.image_size = self._space.image_channels, self._space.image_size

    def __repr__(self) -> str:
        kind = "latent, text" if self.has_text else "latent" if self.is_latent else "pixel"
        return f"Pipeline({self.source or type(self.unet).__name__!r}, {kind}, x_t {self.channels}×{self.size}×{self.size})"

    # ---------------------------------------------------------------- images in/out (_space)
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
        >>> sl.diffusion.load("builtin").to_model(np.ones((2, 64, 64))).shape
        torch.Size([2, 1, 64, 64])
        """
        return self._space.to_model(images)

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
        >>> sl.diffusion.load("builtin").encode(np.zeros((1, 64, 64))).unique().tolist()
        [-1.0]
        """
        return self._space.encode(images)

    def to_images(self, x: torch.Tensor) -> np.ndarray:
        """Model space → images in [0, 1]: (n, h, w) for one channel, else (n, c, h, w).

        A latent model decodes with its VAE (latents divided by the scaling factor, plus the
        shift factor), as diffusers' pipelines do.

        Parameters
        ----------
        x : torch.Tensor
            ``(n, channels, h, w)`` in model space; pixel values outside [−1, 1] are clipped.

        Returns
        -------
        numpy.ndarray
            float32 images in [0, 1].

        Examples
        --------
        >>> import torch, svdlens as sl
        >>> sl.diffusion.load("builtin").to_images(torch.zeros(2, 1, 64, 64)).shape
        (2, 64, 64)
        """
        return self._space.to_images(x)

    # ------------------------------------------------------------------- text (_text)
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
        return self._text.conditioning(prompt, negative_prompt, guidance_scale, n)

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
        return self._text.model_output(x, timestep, cond)

    def _guidance(self, guidance_scale: float | None) -> float | None:
        """The sampling guidance: the default for a text model, none for others."""
        return self._text.guidance(guidance_scale)

    # --------------------------------------------------------------- the grid (_schedule)
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
        return list(self._schedule.grid(1.0, steps).schedule)

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
        return list(self._schedule.grid(t, steps).timesteps)

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
        return self._schedule.grid(t, steps).t_index

    # ------------------------------------------------------------------- DDIM (_ddim)
    def denoise_states(
        self,
        xt: torch.Tensor,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        *,
        cond: Conditioning | None = None,
        progress: Progress = None,
        with_x0: bool = False,
    ) -> Iterator[tuple[int, torch.Tensor]] | Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
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
        with_x0 : bool
            Also yield x̂0, the clean sample the model predicts at the x each step starts from
            (the scheduler's ``pred_original_sample``): what "the noise dissolves away" shows
            long before x itself is clean.

        Yields
        ------
        tuple of (int, torch.Tensor) or (int, torch.Tensor, torch.Tensor)
            The timestep just taken and the sample after it (and x̂0 with ``with_x0``), in model space.

        Examples
        --------
        >>> import torch, svdlens as sl
        >>> pipe = sl.diffusion.load("builtin")
        >>> noise = torch.randn(1, pipe.channels, pipe.size, pipe.size, generator=torch.Generator().manual_seed(0))
        >>> [s for s, x, x0 in pipe.denoise_states(noise, 1.0, steps=4, with_x0=True)]
        [750, 500, 250, 0]
        """
        grid = self._schedule.grid(t, steps)
        states = self._ddim.states(xt, grid.timesteps, grid, cond, progress)
        if with_x0:
            yield from states
        else:
            yield from ((s, x) for s, x, _ in states)

    def invert(
        self,
        images: ArrayLike | torch.Tensor,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        *,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float = 1.0,
        refine: int = INVERSION_REFINE,
        progress: Progress = None,
    ) -> torch.Tensor:
        """Images → x_t by DDIM inversion (eta = 0), with diffusers' ``DDIMInverseScheduler`` steps.

        The inversion climbs the timesteps of :meth:`timesteps` in reverse, so that
        :meth:`generate` from the result walks back down the same grid. Each step is refined
        by ``refine`` fixed-point iterations (AIDI, Pan et al. 2023; ReNoise, Garibi et al. 2024)
        until the model's own sampling step takes it back: the built-in faces' round trip at
        t = 1, 50 steps is 23.0 dB PSNR with none and 47.6 dB with one (the default).

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
        refine : int
            Fixed-point iterations per step (0: plain DDIM inversion, as diffusers'
            ``DDIMInverseScheduler`` alone); each costs one more U-Net call per step.
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
        torch.Size([2, 1, 64, 64])
        """
        grid = self._schedule.grid(t, steps)
        return self._ddim.invert(
            images,
            grid,
            prompt=prompt,
            negative_prompt=negative_prompt,
            guidance_scale=guidance_scale,
            refine=refine,
            progress=progress,
        )

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
        (1, 64, 64)
        """
        grid = self._schedule.grid(t, steps)
        return self._ddim.generate(
            xt,
            grid,
            prompt=prompt,
            negative_prompt=negative_prompt,
            guidance_scale=guidance_scale,
            progress=progress,
        )

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
        torch.Size([2, 1, 64, 64])
        """
        return self._ddim.noise(n, seed)

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
        max_memory: int | float | str | None = DEFAULT_MAX_MEMORY,
        eta: float = 0.0,
    ) -> np.ndarray:
        """New images from pure noise at t = 1, in batches that keep within a memory budget.

        The batch size comes from the model: one sample's working memory is measured once
        (its U-Net call, guided as sampling is, and its VAE decode), and as many samples go
        together as fit in ``max_memory``. Each image is the one a single big batch would give.

        Parameters
        ----------
        n : int
            How many images (ignored when ``latents`` is given).
        seed : int
            Seed of the noise (:meth:`noise`), and of each step's noise when ``eta`` > 0; the
            same seed gives the same images (with ``eta`` > 0, for the same ``n``: each step
            draws the noise of all n samples at once, as diffusers does).
        steps : int
            DDIM steps from t = 1 to 0.
        prompt, negative_prompt : str, optional
            For a text model (None is the empty prompt).
        guidance_scale : float, optional
            Classifier-free guidance; default ``DEFAULT_GUIDANCE`` (7.5) for a text model.
        latents : torch.Tensor, optional
            The starting noise x_T itself, ``(n, channels, h, w)``, to compare with other
            tools. As in diffusers' pipelines, h and w may differ from the model's ``size``
            (the images are then ``vae_scale`` times as large), as long as the U-Net takes
            them: any size for a Stable Diffusion U-Net, multiples of 2 to the number of
            downsamplings for a pixel ``UNet2DModel``.
        progress : callable, optional
            ``progress(done, total, label)`` after each step.
        max_memory : int, float, str or None
            The budget for the working memory of a batch, as :func:`svdlens.local_basis`
            takes it (bytes, or ``"4GB"``, ``"512MiB"``); the default is the same.
            None: all samples in one batch.
        eta : float
            In [0, 1]: 0 (the default) is deterministic DDIM; above 0 each step adds fresh noise,
            eta·σ_t of it (Song et al. 2021, eq. 16), and 1 is DDPM's ancestral sampler. The
            noise is drawn as diffusers' pipelines draw it with ``generator=Generator().manual_seed(seed)``
            (after x_T, unless ``latents`` are given), so the images equal theirs. On the
            built-in model, eta = 1 brings the samples' factors closer to the world's
            (docs/diffusion.md, "What the directions mean, measured").

        Returns
        -------
        numpy.ndarray
            Images in [0, 1]: ``(n, h, w)`` for one channel, else ``(n, c, h, w)``.

        Raises
        ------
        SvdlensError
            ``latents`` not ``(n, channels, h, w)``, of a size the U-Net cannot take, non-finite,
            or making images above ``MAX_PIXELS``; a bad ``max_memory``; ``eta`` outside [0, 1].

        Examples
        --------
        >>> import svdlens as sl
        >>> images = sl.diffusion.load("builtin").sample(n=2, seed=0, steps=2)
        >>> images.shape, bool(images.min() >= 0 and images.max() <= 1)
        ((2, 64, 64), True)
        """
        budget = None if max_memory is None else parse_memory("max_memory", max_memory)
        eta = check_float("eta", eta, low=0, high=1)
        grid = self._schedule.grid(1.0, steps)
        generator = self._ddim.generator(seed)
        x = self._ddim.noise(n, generator) if latents is None else self._space.checked_latents(latents)
        return self._ddim.sample(
            x,
            grid,
            prompt=prompt,
            negative_prompt=negative_prompt,
            guidance_scale=guidance_scale,
            max_memory=budget,
            progress=progress,
            eta=eta,
            generator=generator,
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
        torch.Size([1, 1, 64, 64])
        """
        grid = self._schedule.grid(t, steps)
        return self._ddim.noisy_sample(
            seed, grid, prompt=prompt, negative_prompt=negative_prompt, guidance_scale=guidance_scale
        )

    # --------------------------------------------------------------- h-space (_hspace)
    def start_point(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        *,
        seed: int | None = None,
        xt: torch.Tensor | None = None,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float | None = None,
        with_image: bool = True,
    ) -> StartPoint:
        """Where the method starts: x_t from an image, a seed or x_t itself, and the image it stands for.

        The one way to say "start from an image, a seed or x_t", used by :meth:`directions`,
        :meth:`edit` and :meth:`compare_prompts`, the command line, the app and the demo. An
        image is inverted by DDIM; a seed's sample is generated down to t, and (with
        ``with_image``) on down to its image in the same walk, so that it is generated once.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            An image in [0, 1] (as :meth:`to_model` takes it), inverted to x_t. Give exactly
            one of ``image``, ``seed`` and ``xt``.
        seed : int, optional
            Start where the sample generated from this seed passes at t.
        xt : torch.Tensor, optional
            x_t itself, ``(n, channels, h, w)``.
        t : float
            Where x_t is in the diffusion, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion.
        prompt, negative_prompt : str, optional
            For a text model: the inversion's or the sampling's prompt.
        guidance_scale : float, optional
            The guidance of the inversion (default 1, none) or of the seed's sampling
            (default ``DEFAULT_GUIDANCE`` for a text model).
        with_image : bool
            For a seed, also finish the walk to its image (``StartPoint.image``); without it
            the image is None and only the steps above t are taken.

        Returns
        -------
        StartPoint
            x_t, the image (given, generated, or None for ``xt``), t, steps and the text.

        Raises
        ------
        SvdlensError
            Not exactly one of ``image``, ``seed`` and ``xt``; an ``xt`` that is not 4-D with
            the model's channels; what :meth:`invert` and :meth:`noisy_sample` refuse.

        Examples
        --------
        >>> import svdlens as sl
        >>> pipe = sl.diffusion.load("builtin")
        >>> p = pipe.start_point(seed=3, t=0.6, steps=2)
        >>> p.xt.shape, p.image.shape, p.t
        (torch.Size([1, 1, 64, 64]), (1, 64, 64), 0.6)
        """
        grid = self._schedule.grid(t, steps)
        return self._hspace.start_point(
            grid,
            image=image,
            seed=seed,
            xt=xt,
            prompt=prompt,
            negative_prompt=negative_prompt,
            guidance_scale=guidance_scale,
            with_image=with_image,
        )

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
        return self._hspace.h_map(self._schedule.grid(t, steps), prompt=prompt, layer=layer)

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
        method: str = _METHOD,
        tol: float = _TOL,
        max_memory: int | float | str | None = DEFAULT_MAX_MEMORY,
        cache_dir: str | Path | None = None,
        jvp_mode: str = _JVP_MODE,
        block_size: int | None = None,
        max_dim: int | None = None,
        max_iter: int | None = None,
        start: torch.Tensor | None = None,
    ) -> LocalBasis:
        """The local basis of x_t ↦ h at an image's (or a seed's) x_t.

        The grid of ``t`` and ``steps`` is made once and serves the inversion (or sampling)
        and the map alike. The basis options after ``layer`` are those of
        :func:`svdlens.local_basis`, with its defaults.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            An image in [0, 1], inverted to x_t (guidance 1). Give exactly one of ``image``,
            ``seed``, ``xt`` (see :meth:`start_point`).
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
            Guidance of the sampling that makes x_t from a ``seed`` (an image is inverted
            without guidance).
        layer : str, optional
            The U-Net block whose output is h (default ``"mid_block"``).
        method : str
            The :func:`svdlens.svd` method; "krylov" (the default) certifies its residuals.
        tol : float
            Stop when every residual ``max(‖Jv − σu‖, ‖Jᵀu − σv‖)/σ₁`` is at most ``tol``.
        max_memory : int, float, str or None
            Budget for the working memory of the Jacobian's products, above the model: bytes,
            or a size such as ``"4GB"`` or ``"512MiB"``; None for no budget.
        cache_dir : str or pathlib.Path, optional
            Reuse a basis saved there under its cache key, or save the new one.
        jvp_mode : {"auto", "forward", "double_vjp"}
            How ``J v`` is computed (see :func:`svdlens.jacobian`).
        block_size : int, optional
            Vectors per Krylov block (default 8, or fewer under a tight budget).
        max_dim : int, optional
            The largest Krylov subspace.
        max_iter : int, optional
            The most iterations of the solver.
        start : torch.Tensor, optional
            A warm start: ``(k', ...)`` directions at x_t (rows are vectors, such as ``b.v`` of
            a basis at a nearby t or image). They take the first columns of the first Krylov
            block, the rest stays random, and the residuals are certified as for a cold start
            (see :func:`svdlens.local_basis`); a hash of the start is part of the cache key.

        Returns
        -------
        LocalBasis
            The top-k triplets of ∂h/∂x_t, with ``x``, ``t``, ``steps``, ``prompt`` and
            ``layer`` filled in.

        Raises
        ------
        SvdlensError
            Not exactly one of ``image``, ``seed`` and ``xt``; a bad option.
        """
        grid = self._schedule.grid(t, steps)
        point = self._hspace.start_point(
            grid,
            image=image,
            seed=seed,
            xt=xt,
            prompt=prompt,
            negative_prompt=negative_prompt,
            guidance_scale=None if seed is None else guidance_scale,
            with_image=False,
        )
        return self._hspace.directions(
            point.xt,
            grid,
            k=k,
            prompt=prompt,
            layer=layer,
            method=method,
            tol=tol,
            max_memory=max_memory,
            cache_dir=cache_dir,
            jvp_mode=jvp_mode,
            block_size=block_size,
            max_dim=max_dim,
            max_iter=max_iter,
            start=start,
        )

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
        follow: int = 0,
    ) -> np.ndarray:
        """Images for x_t + γ·v, one per strength γ, denoised to t = 0: shape (len(strengths), ...).

        Strengths are denoised ``EDIT_BATCH`` at a time, so memory does not grow with their number.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            One image in [0, 1], inverted to x_t (give exactly one of ``image`` and ``xt``).
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
        follow : int
            With x-space guidance: 0 moves along the fixed v. k > 0 recomputes a k-direction
            local basis at every step, warm-started from the step before, and moves along its
            direction nearest the last one (:meth:`guidance_path`); this costs a basis per step
            and strength.

        Returns
        -------
        numpy.ndarray
            ``(len(strengths), h, w)`` (or ``(len(strengths), c, h, w)``) images in [0, 1].

        Raises
        ------
        SvdlensError
            Not exactly one of ``image`` and ``xt``, no ``v``, too many or too few strengths,
            or a strength, guidance or scale that is not a finite number in range.

        Examples
        --------
        >>> import torch, svdlens as sl
        >>> pipe = sl.diffusion.load("builtin")
        >>> xt = pipe.noisy_sample(0, t=0.6, steps=2)
        >>> pipe.edit(xt=xt, v=torch.ones(1, 64, 64) / 64, strengths=[-2, 0, 2], t=0.6, steps=2).shape
        (3, 64, 64)
        """
        return self._hspace.edit(
            v,
            strengths,
            self._schedule.grid(t, steps),
            image=image,
            xt=xt,
            prompt=prompt,
            negative_prompt=negative_prompt,
            guidance_scale=guidance_scale,
            x_guidance=x_guidance,
            x_guidance_scale=x_guidance_scale,
            follow=follow,
        )

    def guidance_path(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        v: torch.Tensor | np.ndarray | None = None,
        strength: float = 2.0,
        *,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        xt: torch.Tensor | None = None,
        iterations: int = 3,
        scale: float = 1.0,
        k: int = 5,
        warm: bool = True,
        tol: float = _TOL,
        prompt: str | None = None,
        negative_prompt: str | None = None,
    ) -> GuidancePath:
        """x-space guidance with the local basis recomputed along the path, each basis warm-started from the last.

        Park et al. (2023) edit with x-space guidance, x ← x + s·(ε(x + γv, t) − ε(x, t)), v a
        singular direction at x_t. As x moves, the local basis moves with it: here each step
        first takes the basis at the current x (the one before as its warm start: consecutive
        points are close, so it converges in few products) and moves along its direction
        nearest the direction of the step before, with the sign kept.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            One image in [0, 1], inverted to x_t (give exactly one of ``image`` and ``xt``).
        v : torch.Tensor or numpy.ndarray
            The first direction (``basis.v[0]``, say); its norm is kept along the path.
        strength : float
            γ.
        t : float
            Where x_t is in the diffusion, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion.
        xt : torch.Tensor, optional
            x_t itself, instead of ``image``.
        iterations : int
            Guidance steps, 1 to 100.
        scale : float
            s, the step size.
        k : int
            Directions per basis.
        warm : bool
            Warm-start each basis from the one before (False: every basis cold).
        tol : float
            The residual tolerance of every basis.
        prompt, negative_prompt : str, optional
            For a text model.

        Returns
        -------
        GuidancePath
            The points, the bases, the direction followed at each step and the products.

        Raises
        ------
        SvdlensError
            Not exactly one of ``image`` and ``xt``, no or a zero ``v``, bad iterations, k or scale.

        Examples
        --------
        >>> import svdlens as sl
        >>> pipe = sl.diffusion.load("builtin-lfw")
        >>> xt = pipe.noisy_sample(0, t=0.6, steps=4)
        >>> b = pipe.directions(xt=xt, t=0.6, k=2, steps=4)
        >>> path = pipe.guidance_path(xt=xt, v=b.v[0], strength=2, t=0.6, steps=4, iterations=2, k=2)
        >>> len(path.xs), len(path.bases)
        (3, 2)
        """
        if v is None:
            raise InvalidParameterError("give a direction v (e.g. basis.v[0])")
        grid = self._schedule.grid(t, steps)
        point = self._hspace.start_point(
            grid, image=image, seed=None, xt=xt, guidance_scale=None, with_image=False, prompt=prompt,
            negative_prompt=negative_prompt,
        )  # fmt: skip
        return self._hspace.guidance_path(
            point.xt, torch.as_tensor(v), check_float("strength", strength), grid,
            iterations=check_int("iterations", iterations, high=MAX_X_GUIDANCE), scale=check_float("scale", scale),
            k=check_int("k", k, high=64), warm=bool(warm), tol=check_float("tol", tol), prompt=prompt,
            negative_prompt=negative_prompt,
        )  # fmt: skip

    def transport(
        self,
        basis_from: LocalBasis | LocalDirections,
        i: int,
        targets: Sequence[LocalBasis] | Sequence[LocalDirections],
        *,
        method: str = "project",
        damp: float | None = None,
    ) -> list[Transported]:
        """Direction i of one sample carried to each target: a list of ``Transported``.

        Local edits travel too: with :class:`LocalDirections` from :meth:`local_directions` (the
        same mask on every image), the change direction i makes to x̂0 inside the mask is carried
        to each target's inside basis and projected off its top-r outside directions
        (``transport_local``; ``method="project"`` only).

        Parameters
        ----------
        basis_from : LocalBasis or LocalDirections
            The source sample's local basis, or its local directions.
        i : int
            Which of its directions: ``basis_from.u[i]`` is carried.
        targets : list of LocalBasis, or of LocalDirections
            The target samples' local bases (from :meth:`directions`), or their local
            directions under the same mask.
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
            For "lsqr", a target without its x_t and t; local directions mixed with local bases,
            with another method or under different masks; anything :func:`svdlens.transport` refuses.
        """
        if isinstance(basis_from, LocalDirections) or any(isinstance(b, LocalDirections) for b in targets):
            local = [b for b in targets if isinstance(b, LocalDirections)]
            if not isinstance(basis_from, LocalDirections) or len(local) != len(targets) or method != "project":
                raise InvalidParameterError(
                    "local directions travel to local directions only, with method='project': give "
                    "pipe.local_directions(...) results for the source and every target"
                )
            return [_transport_local(basis_from, i, b) for b in local]
        bases = [b for b in targets if isinstance(b, LocalBasis)]
        return self._hspace.transport(basis_from, i, bases, method=method, damp=damp)

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
        method: str = _METHOD,
        tol: float = _TOL,
        max_memory: int | float | str | None = DEFAULT_MAX_MEMORY,
        cache_dir: str | Path | None = None,
        jvp_mode: str = _JVP_MODE,
        block_size: int | None = None,
        max_dim: int | None = None,
        max_iter: int | None = None,
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
        method, tol, max_memory, cache_dir, jvp_mode, block_size, max_dim, max_iter
            Each basis's options, as :meth:`directions` takes them.

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
        grid = self._schedule.grid(t, steps)
        point = self._hspace.start_point(
            grid,
            image=image,
            seed=None,
            xt=xt,
            prompt=prompts[0],
            negative_prompt=None,
            guidance_scale=None,
            with_image=False,
        )
        options = {
            "method": method,
            "tol": tol,
            "max_memory": max_memory,
            "cache_dir": cache_dir,
            "jvp_mode": jvp_mode,
            "block_size": block_size,
            "max_dim": max_dim,
            "max_iter": max_iter,
            "start": None,
        }
        return self._hspace.compare_prompts(
            point.xt, prompts, grid, k=k, layer=layer, progress=progress, options=options
        )

    # ------------------------------------------------------------------ local edits (LOCO Edit)
    def x0_map(self, t: float = DEFAULT_T, steps: int = DEFAULT_STEPS, *, prompt: str | None = None) -> X0Map:
        """f: x_t ↦ x̂0, the posterior mean the U-Net predicts at x_t's timestep (Tweedie's formula).

        From the model's own ``prediction_type`` (ε, v or x_0); equal to diffusers'
        ``pred_original_sample`` at the same step. In model space (the latent, for a latent
        model), in float32 like :meth:`h_map`.

        Parameters
        ----------
        t : float
            Where x_t is in the diffusion, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion (they fix x_t's timestep).
        prompt : str, optional
            For a text model (None is the empty prompt).

        Returns
        -------
        X0Map
            The map, to give to :func:`svdlens.jacobian` or :func:`svdlens.local_basis`.

        Examples
        --------
        >>> import svdlens as sl
        >>> sl.diffusion.load("builtin").x0_map(0.6)
        x0_map(UNet2DModel, timestep=600, epsilon)
        """
        return self._hspace.x0_map(self._schedule.grid(t, steps), prompt=prompt)

    def local_directions(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        *,
        mask: ArrayLike | Sequence[int],
        seed: int | None = None,
        xt: torch.Tensor | None = None,
        t: float = DEFAULT_T,
        k: int = 3,
        r: int | None = None,
        steps: int = DEFAULT_STEPS,
        prompt: str | None = None,
        tol: float = _TOL,
        max_memory: int | float | str | None = DEFAULT_MAX_MEMORY,
        method: str = "nullspace",
        outside_weight: float | None = None,
    ) -> LocalDirections:
        """Directions that edit inside ``mask`` and leave the rest alone (LOCO Edit, Chen et al. 2024).

        The top-k right singular vectors of the Jacobian of x̂0 inside the mask, projected onto
        the nullspace of the top-r right singular vectors of the Jacobian outside it; both SVDs
        certified. ``ld.leakage`` says how much of each direction's first-order change still
        falls outside (``ld.leakage_before`` without the projection). Edit with
        ``pipe.edit(image, ld.v[0], ...)``.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            An image in [0, 1], inverted to x_t. Give exactly one of ``image``, ``seed``, ``xt``.
        mask : array_like or (int, int, int, int)
            In the pixels of the model's images (``image_size`` square, what :meth:`to_images`
            gives): a boolean image, or a box ``(x0, y0, x1, y1)`` (columns x0 to x1 − 1, rows y0
            to y1 − 1). For a latent model it is shrunk to the latent (a latent pixel is inside
            when half of its image pixels are).
        seed : int, optional
            Take x_t where the sample generated from this seed passes at t.
        xt : torch.Tensor, optional
            x_t itself.
        t : float
            Where x_t is in the diffusion (LOCO Edit uses 0.6 to 0.75).
        k : int
            How many directions inside the mask.
        r : int, optional
            For ``method="nullspace"``: how many outside directions to project out (default 5;
            LOCO Edit uses 5 to 10; 0 for none). Not taken by ``method="contrast"``.
        steps : int
            DDIM steps over the whole diffusion.
        prompt : str, optional
            For a text model: the conditioning of the map and of the inversion.
        tol : float
            The residual tolerance of both SVDs (relative to σ₁) and of the contrast
            eigenproblem (relative to its largest absolute eigenvalue).
        max_memory : int, float, str or None
            Budget for the SVDs' Jacobian products' working memory (see :meth:`directions`).
        method : {"nullspace", "contrast"}
            ``"nullspace"`` (LOCO Edit): the inside directions with the top-r outside ones
            projected out. ``"contrast"``: the top eigenvectors of Jᵀ(M − μ(1−M))J, which weigh
            everything the direction moves outside, not only the top r (more products; for a
            mask whose surroundings move in many independent ways, such as the face world's
            mouth, see docs/local-edits.md). Their eigenvalues and residuals are ``ld.contrast``.
        outside_weight : float, optional
            μ of ``method="contrast"`` (default ``DEFAULT_OUTSIDE_WEIGHT`` = 4): the price of a
            unit of change outside against one inside, up to 1e6. Larger μ leaks less to first
            order and costs more products. Not taken by ``method="nullspace"``.

        Returns
        -------
        LocalDirections
            ``v`` ``(k, *x_t.shape)``, ``s``, ``leakage``, ``leakage_before``, both bases and their
            ``residuals``, the mask at the model's resolution.

        Raises
        ------
        SvdlensError
            A bad mask (empty, the whole image, out of bounds, of another shape), not exactly one
            of ``image``, ``seed`` and ``xt``, a direction inside the outside directions' span, an
            unknown method, r given with ``method="contrast"`` or ``outside_weight`` with
            ``"nullspace"``, or contrast directions that did not converge. All but the last two
            are refused before any work.
        """
        pixels = image_mask(mask, self.image_size, self.image_size)
        small = model_mask(pixels, self.size)
        _local_settings(method, k, r, outside_weight, self.channels * self.size**2)  # refused before the inversion
        grid = self._schedule.grid(t, steps)
        x = self._x_t32(grid, image=image, seed=seed, xt=xt, prompt=prompt)
        f = self._hspace.x0_map(grid, prompt=prompt)
        options = {"tol": tol, "max_memory": max_memory}
        return _local_directions(
            f, x, small, k=k, r=r, t=grid.t, steps=grid.steps, basis_options=options,
            method=method, outside_weight=outside_weight,
        )  # fmt: skip

    def _x_t32(
        self,
        grid: Grid,
        *,
        image: ArrayLike | torch.Tensor | None,
        seed: int | None,
        xt: torch.Tensor | None,
        prompt: str | None,
    ) -> torch.Tensor:
        """x_t on ``grid`` from exactly one of an image (inverted without guidance), a seed or x_t, in float32.

        Where the local edits, the rank profile, the linearity, the norms and the evolution start.
        """
        point = self._hspace.start_point(
            grid, image=image, seed=seed, xt=xt, prompt=prompt, negative_prompt=None, guidance_scale=None,
            with_image=False,
        )  # fmt: skip
        return torch.as_tensor(point.xt).to(self.device, torch.float32)

    def rank_profile(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        *,
        seed: int | None = None,
        ts: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
        k: int = DEFAULT_K,
        tau: float = 0.05,
        steps: int = DEFAULT_STEPS,
        prompt: str | None = None,
        tol: float = 1e-3,
    ) -> RankProfile:
        """The numerical rank of the x̂0 Jacobian against t: how many σᵢ are at least τ·σ₁.

        At each t the image is inverted (or the seed's sample stopped) there and the top-k
        singular values of ∂x̂0/∂x_t are computed with their certificate. A low rank is why a
        single step along a singular vector edits cleanly (Chen et al. 2024).

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            An image in [0, 1]; or give ``seed``.
        seed : int, optional
            A generated sample instead of an image.
        ts : sequence of float
            The t's, each in (0, 1].
        k : int
            Singular values computed at each t; a rank of k means "k or more".
        tau : float
            The threshold, relative to σ₁, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion.
        prompt : str, optional
            For a text model.
        tol : float
            The residual tolerance of each SVD.

        Returns
        -------
        RankProfile
            σ and residuals per t, the rank, whether it is only a lower bound, and its share.

        Raises
        ------
        SvdlensError
            Not exactly one of ``image`` and ``seed``; a bad t, k or tau.
        """
        ts = [float(t) for t in ts]
        if not 1 <= len(ts) <= 64:
            raise InvalidParameterError("ts must hold 1 to 64 values of t")
        bases = []
        for t in ts:
            grid = self._schedule.grid(t, steps)
            x = self._x_t32(grid, image=image, seed=seed, xt=None, prompt=prompt)
            bases.append(local_basis(self._hspace.x0_map(grid, prompt=prompt), x, k=k, tol=tol))
        return _rank_profile(bases, ts, tau, int(self.channels * self.size * self.size))

    def linearity(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        v: torch.Tensor | None = None,
        *,
        seed: int | None = None,
        xt: torch.Tensor | None = None,
        t: float = DEFAULT_T,
        lambdas: Sequence[float] = (0.5, 1, 2, 4, 8, 16),
        steps: int = DEFAULT_STEPS,
        prompt: str | None = None,
    ) -> Linearity:
        """How linear x̂0 is along ``v`` at x_t: ‖f(x+λv) − f(x)‖ / ‖λ J v‖ and their cosine, per λ.

        Both are 1 where x̂0 is linear along v; LOCO Edit reports them to explain why one step
        along a singular vector is enough.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            An image in [0, 1], inverted to x_t. Give exactly one of ``image``, ``seed``, ``xt``.
        v : torch.Tensor
            The direction, shaped like x_t (normalised here), e.g. ``basis.v[0]``.
        seed : int, optional
            A generated sample instead of an image.
        xt : torch.Tensor, optional
            x_t itself.
        t : float
            Where x_t is in the diffusion.
        lambdas : sequence of float
            The step sizes λ (nonzero; the length of λv, v being a unit vector).
        steps : int
            DDIM steps over the whole diffusion.
        prompt : str, optional
            For a text model.

        Returns
        -------
        Linearity
            The ratio and cosine per λ, and ‖J v‖.

        Raises
        ------
        SvdlensError
            No ``v``, a zero or non-finite one, bad step sizes, or not exactly one start.
        """
        if v is None:
            raise InvalidParameterError("give v, the direction to move along (shaped like x_t)")
        grid = self._schedule.grid(t, steps)
        x = self._x_t32(grid, image=image, seed=seed, xt=xt, prompt=prompt)
        return _linearity(self._hspace.x0_map(grid, prompt=prompt), x, v, lambdas)

    def jacobian_norms(
        self,
        image: ArrayLike | torch.Tensor | None = None,
        *,
        seed: int | None = None,
        xt: torch.Tensor | None = None,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        prompt: str | None = None,
        tol: float = 1e-3,
    ) -> dict[str, float]:
        """The spectral norms (σ₁) of the Jacobians of x̂0, h and ε̂ against x_t, certified to ``tol``.

        Parameters
        ----------
        image : array_like or torch.Tensor, optional
            An image in [0, 1]. Give exactly one of ``image``, ``seed``, ``xt``.
        seed : int, optional
            A generated sample instead of an image.
        xt : torch.Tensor, optional
            x_t itself.
        t : float
            Where x_t is in the diffusion.
        steps : int
            DDIM steps over the whole diffusion.
        prompt : str, optional
            For a text model.
        tol : float
            The residual tolerance of each top singular value.

        Returns
        -------
        dict
            ``{"x0": σ₁, "h": σ₁, "eps": σ₁}``.
        """
        grid = self._schedule.grid(t, steps)
        x = self._x_t32(grid, image=image, seed=seed, xt=xt, prompt=prompt)
        x0 = self._hspace.x0_map(grid, prompt=prompt)
        maps: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
            "x0": x0,
            "h": self._hspace.h_map(grid, prompt=prompt, layer=None),
            "eps": x0.restricted(None, "eps"),
        }
        return {name: float(local_basis(f, x, k=1, tol=tol).s[0]) for name, f in maps.items()}

    # ------------------------------------------------------------------ how the basis evolves (Park et al. §5)
    def basis_evolution(
        self,
        images: ArrayLike | torch.Tensor,
        ts: Sequence[float] = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1),
        k: int = 5,
        *,
        steps: int = DEFAULT_STEPS,
        warm: bool = True,
        prompt: str | None = None,
        layer: str | None = None,
        tol: float = _TOL,
        max_memory: int | float | str | None = DEFAULT_MAX_MEMORY,
        cache_dir: str | Path | None = None,
        progress: Progress = None,
    ) -> BasisEvolution:
        """Local bases over a t grid for one image or several, with their distances and frequency content.

        Each image is inverted to each t (descending) and its basis of x_t ↦ h computed there,
        warm-started from its basis at the t before (``warm``): neighbouring t's have nearby
        directions. The result holds the Grassmann and projection distances across t and across
        images, each direction's radially averaged power spectrum, and the homogeneity of the
        images' bases at each t (Park et al. 2023, §5: coarse directions at large t, fine ones
        near 0, and bases that grow alike across images as t grows).

        Parameters
        ----------
        images : array_like or torch.Tensor
            One image in [0, 1] or a batch of them (as :meth:`to_model` reads them).
        ts : sequence of float
            2 to 32 t's in (0, 1]; computed in descending order.
        k : int
            Directions per basis.
        steps : int
            DDIM steps over the whole diffusion.
        warm : bool
            Start each basis from the one at the t before (False: every basis cold, as in the
            paper).
        prompt : str, optional
            For a text model.
        layer : str, optional
            The U-Net block whose output is h (default ``"mid_block"``).
        tol : float
            The residual tolerance of every basis.
        max_memory : int, float, str or None
            Budget for the Jacobian products' working memory (see :meth:`directions`).
        cache_dir : str or pathlib.Path, optional
            Keep each basis there between runs (see :meth:`directions`; a warm start is part of
            the key, so a rerun finds every basis).
        progress : callable, optional
            ``progress(done, total, label)`` after each basis.

        Returns
        -------
        BasisEvolution
            Bases, distances, spectra, homogeneity and the products each basis took.

        Raises
        ------
        SvdlensError
            Bad t's, k or images.
        """
        values = check_ts(ts)
        batch = self._space.as_batch(images)
        total = len(batch) * len(values)
        report(progress, 0, total, "local bases over t")
        bases: list[list[LocalBasis]] = []
        for i, image in enumerate(batch):
            row: list[LocalBasis] = []
            for t in values:
                grid = self._schedule.grid(t, steps)
                x = self._x_t32(grid, image=image[None], seed=None, xt=None, prompt=prompt)
                basis = self._hspace.directions(
                    x, grid, k=k, prompt=prompt, layer=layer, method=_METHOD, tol=tol, max_memory=max_memory,
                    cache_dir=cache_dir, jvp_mode=_JVP_MODE, block_size=None, max_dim=None, max_iter=None,
                    start=row[-1].v if warm and row else None,
                )  # fmt: skip
                row.append(basis)
                report(progress, i * len(values) + len(row), total, "local bases over t")
            bases.append(row)
        return evolution_of(bases, values, warm)

    def factor_effects(
        self,
        directions: torch.Tensor | np.ndarray | Sequence[torch.Tensor],
        image: ArrayLike | torch.Tensor | None = None,
        *,
        seed: int | None = None,
        xt: torch.Tensor | None = None,
        t: float = DEFAULT_T,
        steps: int = DEFAULT_STEPS,
        strength: float = DEFAULT_EFFECT_STRENGTH,
        labels: Sequence[str] | None = None,
    ) -> FactorEffects:
        """What each direction means on the face world: the factor change its ±γ edits make, read by the oracle.

        For the face-world model (``sl.diffusion.load("builtin")``) only: its images have known
        factors (:mod:`svdlens.faces.world`), and the shipped oracle reads them back. Any
        directions at x_t can be judged: a local basis's ``v``, transported ones, your own.

        Parameters
        ----------
        directions : tensor, array or sequence of tensors
            ``(m, channels, size, size)`` directions at x_t; each is scaled to unit norm.
        image : array_like or torch.Tensor, optional
            The image, inverted to ``t``. Give exactly one of ``image``, ``seed`` and ``xt``.
        seed : int, optional
            Seed of a new sample, stopped at ``t``.
        xt : torch.Tensor, optional
            x_t itself.
        t : float
            Where the edits happen, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion.
        strength : float
            γ of the ±γ edits.
        labels : sequence of str, optional
            One label per direction (default ``v1``, ``v2``, ...).

        Returns
        -------
        FactorEffects
            The change of every factor per direction, with share, purity and the purest direction per factor.

        Examples
        --------
        >>> import svdlens as sl
        >>> pipe = sl.diffusion.load("builtin")
        >>> b = pipe.directions(sl.faces.world.face("scary-face"), t=0.6, k=2, steps=5)
        >>> fx = pipe.factor_effects(b.v, sl.faces.world.face("scary-face"), t=0.6, steps=5)
        >>> fx.change.shape, len(fx.factor)
        ((2, 10), 2)
        """
        # refused before the inversion (counted as to_model reads images); _factor_effects checks x_t alike
        count = 1 if image is None else len(self._space.as_batch(image))
        if count != 1:
            raise InvalidParameterError(
                f"factor effects read one image at a time: give one image; got {count}; loop over the images for more"
            )
        grid = self._schedule.grid(t, steps)
        x = self._x_t32(grid, image=image, seed=seed, xt=xt, prompt=None)
        return _factor_effects(self, x, directions, t=t, steps=steps, strength=strength, labels=labels)


FacePipeline = Pipeline
"""The earlier name of :class:`Pipeline` (it began with the built-in face model)."""

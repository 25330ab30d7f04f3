"""DDIM both ways (Song et al. 2021): noise, inversion, generation, sampling.

Each step is a step of the call's :class:`~svdlens.diffusion._schedule.Grid`, that is of
diffusers' own ``DDIMScheduler`` or ``DDIMInverseScheduler``, on the U-Net's (guided)
prediction. Inversion and generation are deterministic (eta = 0), so that an edit of x_t is
the only change; ``sample`` may also take stochastic steps (eta > 0), with the noise of each
step drawn as diffusers' pipelines draw it. ``sample`` goes in batches sized so that the
U-Net's and the VAE's working memory stays within the same budget as the Jacobian products'
(``max_memory``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._defaults import INVERSION_REFINE
from .._progress import Progress, report
from .._validation import check_finite, check_int
from ._modules import peak_bytes
from ._schedule import Grid, Schedule
from ._space import ModelSpace
from ._text import Conditioning, Text

__all__ = ["DDIM", "SAMPLE_FIXED", "SAMPLE_PER_IMAGE", "MAX_REFINE"]

MAX_REFINE = 20
"""The most fixed-point refinement iterations per inversion step."""

#: Working memory of a no-grad batch of b samples, in units of one sample's :func:`peak_bytes`:
#: at most ``SAMPLE_FIXED + b · SAMPLE_PER_IMAGE``. Measured on the google/ddpm-celebahq-256
#: U-Net (CPU, peak RSS above the weights, batches of 1 and 4): 0.6 once (the kernels' scratch
#: space) plus 1.07 per sample; these constants keep a margin.
SAMPLE_FIXED = 1.0
SAMPLE_PER_IMAGE = 1.25


class DDIM:
    """DDIM sampling and inversion on a grid, for a model space and its conditioning.

    Parameters
    ----------
    schedule : Schedule
        The model's schedule (its ``init_noise_sigma`` scales the noise).
    space : ModelSpace
        Images ↔ model space.
    text : Text
        The conditioning and the guided prediction.
    device : torch.device
        Where the model runs.
    dtype : torch.dtype
        The weights' dtype.
    """

    def __init__(
        self, schedule: Schedule, space: ModelSpace, text: Text, *, device: torch.device, dtype: torch.dtype
    ) -> None:
        self.schedule, self.space, self.text = schedule, space, text
        self.device, self.dtype = device, dtype
        self._sample_bytes: dict[tuple, int] = {}  # one sample's peak, by x_t's shape and guidance

    # ------------------------------------------------------------------ building blocks
    @staticmethod
    def generator(seed: int) -> torch.Generator:
        """The CPU generator of ``seed``: it draws x_T, then each stochastic step's noise."""
        return torch.Generator().manual_seed(check_int("seed", seed, low=0))

    def noise(self, n: int, seed: int | torch.Generator) -> torch.Tensor:
        """x_T for ``n`` samples, drawn on the CPU from ``seed`` (or a generator) as diffusers' ``randn_tensor`` does."""
        n = check_int("n", n)
        g = seed if isinstance(seed, torch.Generator) else self.generator(seed)
        shape = (n, self.space.channels, self.space.size, self.space.size)
        return torch.randn(shape, generator=g, dtype=self.dtype).to(self.device) * self.schedule.init_noise_sigma

    def states(
        self,
        x: torch.Tensor,
        timesteps: Sequence[int],
        grid: Grid,
        cond: Conditioning | None,
        progress: Progress = None,
    ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """Each sampling step over ``timesteps`` (descending, on ``grid``): ``(timestep, x after it, x̂0)``.

        x̂0 is the clean sample the model predicted at the x the step started from.
        """
        x = torch.as_tensor(x).to(self.device, self.dtype)
        report(progress, 0, len(timesteps), "DDIM sampling")
        for i, s in enumerate(timesteps, start=1):
            x, x0 = grid.down_with_x0(self.text.model_output(x, s, cond), s, x)
            check_finite(f"the sampling step at timestep {s}", x)
            report(progress, i, len(timesteps), "DDIM sampling")
            yield s, x, x0

    def walk(
        self,
        x: torch.Tensor,
        timesteps: Sequence[int],
        grid: Grid,
        cond: Conditioning | None,
        progress: Progress = None,
    ) -> torch.Tensor:
        """x after the sampling steps over ``timesteps`` (x itself, on the device, when there are none)."""
        out = torch.as_tensor(x).to(self.device, self.dtype)
        for _, state, _ in self.states(out, timesteps, grid, cond, progress):
            out = state
        return out

    def sampling_conditioning(
        self, prompt: str | None, negative_prompt: str | None, guidance_scale: float | None, n: int = 1
    ) -> Conditioning | None:
        """The conditioning of sampling: guidance ``DEFAULT_GUIDANCE`` for a text model unless given."""
        return self.text.conditioning(prompt, negative_prompt, self.text.guidance(guidance_scale), n=n)

    # ------------------------------------------------------------------ the public jobs, on a grid
    def invert(
        self,
        images: ArrayLike | torch.Tensor,
        grid: Grid,
        *,
        prompt: str | None,
        negative_prompt: str | None,
        guidance_scale: float,
        refine: int = INVERSION_REFINE,
        progress: Progress = None,
    ) -> torch.Tensor:
        """Images → x_t, climbing ``grid.timesteps`` with ``DDIMInverseScheduler`` steps.

        DDIM inversion takes the noise prediction at the point it leaves, ε(x_{s−Δ}), where the
        sampling step it undoes will use the one at the point it reaches, ε(x_s): the round trip
        is exact only as far as the two agree. ``refine`` iterations of fixed-point refinement
        (as in AIDI, Pan et al. 2023, and ReNoise, Garibi et al. 2024) correct each step: with D
        the model's own sampling step from s, z ← z + (x_{s−Δ} − D(z)) · √(ᾱ_s/ᾱ_{s−Δ}), whose
        fixed point is the z that D takes exactly back to x_{s−Δ} (clipping included, since D
        is the sampler's own step). Each iteration is one more U-Net call per step.
        """
        refine = check_int("refine", refine, low=0, high=MAX_REFINE)
        x = self.space.encode(images)
        cond = self.text.conditioning(prompt, negative_prompt, guidance_scale, n=len(x))
        ts = grid.timesteps[::-1]
        report(progress, 0, len(ts), "DDIM inversion")
        for i, s in enumerate(ts, start=1):
            z = grid.up(self.text.model_output(x, s, cond), s, x)
            if refine:
                z = self._refined(z, x, s, grid, cond, refine)
            x = z
            check_finite(f"the inversion step at timestep {s}", x)
            report(progress, i, len(ts), "DDIM inversion")
        return x

    def _refined(
        self, z: torch.Tensor, x: torch.Tensor, s: int, grid: Grid, cond: Conditioning | None, refine: int
    ) -> torch.Tensor:
        """``refine`` safeguarded fixed-point iterations from z towards the x_s that the sampler takes back to x.

        Each sample stops, at its better iterate, as soon as its residual ‖x − D(z)‖ grows or
        turns non-finite: the iteration contracts near the answer but can diverge far from it
        (measured: 5 iterations on some built-in faces at t = 1 ran away without this guard).
        """
        scale = self._refine_scale(grid, s)
        shape = (-1,) + (1,) * (z.ndim - 1)
        active = torch.ones(len(z), dtype=torch.bool, device=z.device)
        previous, last = z, None
        for _ in range(refine):
            residual = x - grid.down(self.text.model_output(z, s, cond), s, z)
            norm = residual.flatten(1).norm(dim=1)
            if last is not None:
                worse = active & ((norm > last) | ~torch.isfinite(norm))
                z = torch.where(worse.view(shape), previous, z)  # back to the better iterate, and stop there
                active &= ~worse
                if not bool(active.any()):
                    break
            previous, last = z, norm
            step = z + residual * scale
            ok = active & torch.isfinite(step).flatten(1).all(dim=1)
            z = torch.where(ok.view(shape), step, z)
            active &= ok
        return z

    @staticmethod
    def _refine_scale(grid: Grid, s: int) -> float:
        """√(ᾱ_s / ᾱ_{s−Δ}): how much a change of x_s moves the sampling step's result, to first order."""
        sampler = grid.sampler
        prev = s - sampler.config.num_train_timesteps // sampler.num_inference_steps
        a_prev = sampler.alphas_cumprod[prev] if prev >= 0 else sampler.final_alpha_cumprod
        return float((sampler.alphas_cumprod[s] / a_prev) ** 0.5)

    def generate(
        self,
        xt: torch.Tensor,
        grid: Grid,
        *,
        prompt: str | None,
        negative_prompt: str | None,
        guidance_scale: float | None,
        progress: Progress = None,
    ) -> np.ndarray:
        """x_t → images: the sampling steps of ``grid.timesteps``, then the VAE for a latent model."""
        x = torch.as_tensor(xt)
        cond = self.sampling_conditioning(prompt, negative_prompt, guidance_scale, n=len(x))
        return self.space.to_images(self.walk(x, grid.timesteps, grid, cond, progress))

    def noisy_sample(
        self,
        seed: int,
        grid: Grid,
        *,
        prompt: str | None,
        negative_prompt: str | None,
        guidance_scale: float | None,
    ) -> torch.Tensor:
        """x_t where the sample from ``seed`` passes: the sampling steps of ``grid.above`` from its noise."""
        cond = self.sampling_conditioning(prompt, negative_prompt, guidance_scale)
        return self.walk(self.noise(1, seed), grid.above, grid, cond)

    def sample(
        self,
        x: torch.Tensor,
        grid: Grid,
        *,
        prompt: str | None,
        negative_prompt: str | None,
        guidance_scale: float | None,
        max_memory: int | None,
        progress: Progress = None,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """Images from x_T (the whole of ``grid``), in batches that keep within ``max_memory`` bytes.

        Every sample's steps are those of one big batch (the U-Net and the VAE treat samples
        apart), so the images do not depend on the batching. With ``eta`` > 0, each step's
        noise is drawn from ``generator`` for all samples at once, as diffusers' pipelines
        draw it for one batch; the batches then go through each step in turn.
        """
        cond = self.sampling_conditioning(prompt, negative_prompt, guidance_scale)
        size = self.batch_size(x, grid, cond, max_memory)
        starts = range(0, len(x), size)
        if eta > 0:
            if generator is None:
                raise ValueError("stochastic sampling (eta > 0) needs the generator of its noise")
            return self._stochastic(x, grid, cond, starts, size, eta, generator, progress)
        steps = len(grid.timesteps)

        def overall(batch: int) -> Progress:
            if progress is None:
                return None
            return lambda done, total, label: progress(batch * steps + done, len(starts) * steps, label)

        images = [
            self.space.to_images(self.walk(x[a : a + size], grid.timesteps, grid, cond, overall(b)))
            for b, a in enumerate(starts)
        ]
        return np.concatenate(images)

    def _stochastic(
        self,
        x: torch.Tensor,
        grid: Grid,
        cond: Conditioning | None,
        starts: range,
        size: int,
        eta: float,
        generator: torch.Generator,
        progress: Progress,
    ) -> np.ndarray:
        """:meth:`sample` with eta > 0: step by step over all batches, one noise draw per step."""
        x = torch.as_tensor(x).to(self.device, self.dtype)
        steps = grid.timesteps
        label = f"DDIM sampling (eta = {eta:g})"
        total = len(steps) * len(starts)
        report(progress, 0, total, label)
        for i, s in enumerate(steps):
            noise = torch.randn(x.shape, generator=generator, dtype=self.dtype).to(self.device)
            parts = []
            for b, a in enumerate(starts, start=1):
                part = x[a : a + size]
                parts.append(grid.down(self.text.model_output(part, s, cond), s, part, eta, noise[a : a + size]))
                report(progress, i * len(starts) + b, total, label)
            x = torch.cat(parts)
            check_finite(f"the sampling step at timestep {s}", x)
        return np.concatenate([self.space.to_images(x[a : a + size]) for a in starts])

    def batch_size(self, x: torch.Tensor, grid: Grid, cond: Conditioning | None, max_memory: int | None) -> int:
        """How many of the samples ``x`` go through the U-Net and the VAE together within ``max_memory`` bytes.

        One sample's need is measured once per shape and guidance (:func:`peak_bytes` of a
        U-Net call, guided as sampling is, and of a VAE decode, whichever is larger); a batch
        of b needs ``SAMPLE_FIXED + b · SAMPLE_PER_IMAGE`` times that. The largest b within
        the budget, at least 1. Without a budget, or for one sample, all go together.
        """
        if max_memory is None or len(x) <= 1:
            return max(1, len(x))
        guided = cond is not None and cond.uncond is not None
        key = (tuple(x.shape[1:]), guided)
        if key not in self._sample_bytes:
            one = x[:1].to(self.device, self.dtype)
            weights = [*self.text.unet.parameters(), *self.text.unet.buffers()]
            need = peak_bytes(lambda: self.text.model_output(one, grid.timesteps[0], cond), [*weights, one])
            if self.space.vae is not None:
                vae = [*self.space.vae.parameters(), *self.space.vae.buffers()]
                need = max(need, peak_bytes(lambda: self.space.to_images(one), [*vae, one]))
            self._sample_bytes[key] = need
        room = max_memory / self._sample_bytes[key] - SAMPLE_FIXED
        return max(1, min(len(x), math.floor(room / SAMPLE_PER_IMAGE)))

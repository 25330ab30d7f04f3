"""The model's DDIM schedule: the scheduler checks, and the frozen grid (T, steps, t) of each call.

Every DDIM step is a step of diffusers' own ``DDIMScheduler`` (sampling) or
``DDIMInverseScheduler`` (inversion), built from the model's scheduler config, so that
``prediction_type``, ``clip_sample``, thresholding, ``timestep_spacing`` and ``steps_offset``
are diffusers', with one exception: inversion never clips x̂0 (see :class:`Schedule`). A
:class:`Grid` is made once per call, from ``t`` and ``steps`` checked once, with schedulers of
its own: a call never resets a scheduler another call is walking.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import Any

import torch

from .._defaults import MAX_STEPS
from .._validation import check_fraction, check_int
from ..exceptions import ModelLoadError
from ._modules import DiffusersModel

__all__ = ["check_scheduler", "Grid", "Schedule", "PREDICTION_TYPES", "TIMESTEP_SPACINGS"]

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


@dataclass(frozen=True)
class Grid:
    """The DDIM grid of one call: ``steps`` timesteps over the whole diffusion, and where t falls on it.

    Made by :meth:`Schedule.grid`. Its two schedulers are its own copies, set to ``steps``;
    their ``step`` reads them and changes nothing, so one grid may be walked by several calls.

    Attributes
    ----------
    t : float
        Where x_t is, in (0, 1].
    steps : int
        DDIM steps over the whole diffusion (diffusers' ``num_inference_steps``).
    schedule : tuple of int
        All ``steps`` sampling timesteps, descending, as ``set_timesteps(steps)`` makes them.
    timesteps : tuple of int
        Those at or below t·T (at least the last one), descending: the walk from x_t down.
    sampler, inverse : diffusers.DDIMScheduler, diffusers.DDIMInverseScheduler
        Set to this grid.
    """

    t: float
    steps: int
    schedule: tuple[int, ...]
    timesteps: tuple[int, ...]
    sampler: DiffusersModel = field(repr=False, compare=False)
    inverse: DiffusersModel = field(repr=False, compare=False)

    @property
    def t_index(self) -> int:
        """The timestep where x_t is: the first of :attr:`timesteps`."""
        return self.timesteps[0]

    @property
    def above(self) -> tuple[int, ...]:
        """The timesteps above x_t's, descending: the walk from pure noise down to x_t."""
        return self.schedule[: len(self.schedule) - len(self.timesteps)]

    def down(
        self,
        output: torch.Tensor,
        timestep: int,
        x: torch.Tensor,
        eta: float = 0.0,
        variance_noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One sampling step from ``timestep``: ``DDIMScheduler.step``, deterministic unless ``eta`` > 0.

        With ``eta`` > 0 the step adds ``variance_noise`` (standard normal, x's shape) scaled
        by eta·σ_t (Song et al. 2021, eq. 16; eta = 1 is DDPM's ancestral step).
        """
        return self.sampler.step(output, timestep, x, eta=eta, variance_noise=variance_noise).prev_sample

    def down_with_x0(self, output: torch.Tensor, timestep: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One deterministic sampling step from ``timestep``, and x̂0, the clean sample the model predicts at ``x``."""
        out = self.sampler.step(output, timestep, x, eta=0.0)
        return out.prev_sample, out.pred_original_sample

    def up(self, output: torch.Tensor, timestep: int, x: torch.Tensor) -> torch.Tensor:
        """One inversion step from ``timestep`` to the next one up: ``DDIMInverseScheduler.step``."""
        return self.inverse.step(output, timestep, x).prev_sample


class Schedule:
    """The model's schedule, from its scheduler config: T, ᾱ, and a :class:`Grid` for each call.

    Parameters
    ----------
    scheduler : diffusers scheduler
        The model's scheduler (any class whose config diffusers' DDIM can run).

    Attributes
    ----------
    sampler : diffusers.DDIMScheduler
        Made from the config; never set to a grid (each grid sets a copy).
    inverse : diffusers.DDIMInverseScheduler
        The same for inversion, with ``clip_sample`` off: clipping x̂0 on the way up cost the
        real-face model 4.8 dB of round trip (``bench/inversion.py``). The sampler keeps it, and
        so does the refinement, whose step is the sampler's.
    T : int
        The number of training timesteps.
    alphas : torch.Tensor
        ``(T,)`` ᾱ_t, float64.

    Raises
    ------
    ModelLoadError
        A setting diffusers' DDIM cannot honour (see :func:`check_scheduler`).
    """

    def __init__(self, scheduler: DiffusersModel) -> None:
        from diffusers import DDIMInverseScheduler, DDIMScheduler

        check_scheduler(scheduler.config)
        self.sampler = DDIMScheduler.from_config(scheduler.config)
        # No x̂0 clipping on the way up (see ``inverse`` above): it is the sampler's guard alone.
        self.inverse = DDIMInverseScheduler.from_config(
            {key: value for key, value in scheduler.config.items() if key in _init_keys(DDIMInverseScheduler)}
            | {"clip_sample": False}
        )
        self.T = int(self.sampler.config.num_train_timesteps)
        self.alphas = self.sampler.alphas_cumprod.to(torch.float64)
        self.init_noise_sigma = float(self.sampler.init_noise_sigma)

    def grid(self, t: float, steps: int) -> Grid:
        """The grid of ``steps`` DDIM steps and where ``t`` falls on it, both checked here.

        ``t = 1`` gives the whole schedule, as diffusers' pipelines run it; a smaller t starts
        lower on the same grid (at least one step), as diffusers' image-to-image does.

        Parameters
        ----------
        t : float
            How far into the diffusion, in (0, 1].
        steps : int
            DDIM steps over the whole diffusion, at most ``T``.

        Returns
        -------
        Grid
            The timesteps, with schedulers of its own set to ``steps``.

        Raises
        ------
        InvalidParameterError
            ``t`` outside (0, 1] or ``steps`` not a whole number in range.
        """
        t = check_fraction("t", t)
        steps = check_int("steps", steps, high=min(MAX_STEPS, self.T))
        sampler = copy.copy(self.sampler)  # set_timesteps rebinds its attributes: the original is untouched
        sampler.set_timesteps(steps)
        inverse = copy.copy(self.inverse)
        inverse.num_inference_steps = steps
        inverse.timesteps = sampler.timesteps.flip(0)  # inversion climbs the sampling grid
        schedule = tuple(int(s) for s in sampler.timesteps)
        top = t * self.T
        timesteps = tuple(s for s in schedule if s <= top) or schedule[-1:]
        return Grid(t, steps, schedule, timesteps, sampler, inverse)


def _init_keys(cls: type) -> set[str]:
    """The settings a scheduler class takes (from_config warns about any other key)."""
    return set(inspect.signature(cls).parameters) - {"self", "kwargs"}

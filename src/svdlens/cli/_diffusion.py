"""What the diffusion commands share: the model flags, the starting image, strengths, and the grid they write."""

from __future__ import annotations

import functools
import inspect
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from .._defaults import DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_T, MAX_GUIDANCE, MAX_STEPS, MAX_STRENGTHS
from .._validation import check_choice, check_float, check_fraction, check_int
from ..diffusion import DTYPES, Pipeline, StartPoint, load
from ..diffusion._hspace import LOCAL_BASIS_DEFAULTS
from ..exceptions import InvalidParameterError, SvdlensError
from ..nets._jacobian import parse_memory
from ._main import handled

__all__ = [
    "MODEL",
    "T",
    "STEPS",
    "PROMPT",
    "NEGATIVE_PROMPT",
    "GUIDANCE",
    "LAYER",
    "DEVICE",
    "DTYPE",
    "TOL",
    "MAX_MEMORY",
    "MODEL_FLAGS",
    "ModelChoice",
    "model_choice",
    "model_flags",
    "check_basis_options",
    "check_guidance_used",
    "pipeline",
    "read_start_image",
    "parse_strengths",
    "parse_mask",
    "start",
    "check_t_steps",
]

MODEL = typer.Option(
    "builtin",
    "--model",
    help="builtin (the 64×64 face-world DDPM), builtin-lfw (the 32×32 real-face one), a diffusers folder "
    "(DDPMPipeline, DDIMPipeline, StableDiffusionPipeline, or a UNet2DModel), or a hub id such as "
    "google/ddpm-celebahq-256 (when online).",
)
T = typer.Option(DEFAULT_T, "--t", help="How far into the diffusion, in (0, 1].")
STEPS = typer.Option(DEFAULT_STEPS, "--steps", help=f"DDIM steps over the whole diffusion (at most {MAX_STEPS}).")
PROMPT = typer.Option(None, "--prompt", help="The prompt (Stable Diffusion models only).")
NEGATIVE_PROMPT = typer.Option(None, "--negative-prompt", help="What guidance steers away from (Stable Diffusion).")
GUIDANCE = typer.Option(
    None,
    "--guidance",
    help=f"Classifier-free guidance scale, 0 to {MAX_GUIDANCE:g} (Stable Diffusion; default {DEFAULT_GUIDANCE:g} for "
    "sampling, 1 for edits so that strength 0 gives the image back).",
)
LAYER = typer.Option(None, "--layer", help="The U-Net block whose output is h: mid_block (default), up_blocks.0, ...")
DEVICE = typer.Option("cpu", "--device", help="Where the model runs: cpu, cuda, cuda:N or mps.")
DTYPE = typer.Option("float32", "--dtype", help="The weights' dtype: float32, float16 or bfloat16.")
TOL = typer.Option(
    LOCAL_BASIS_DEFAULTS["tol"],
    "--tol",
    help="Residual tolerance of each local basis: stop when every ‖Jv − σu‖, ‖Jᵀu − σv‖ is at most this times σ₁.",
)
MAX_MEMORY = typer.Option(
    LOCAL_BASIS_DEFAULTS["max_memory"],
    "--max-memory",
    help="Working-memory budget above the model (a local basis's Jacobian products, sample's batches): "
    "a size such as 4GB or 512MiB.",
)

# The model flags, declared once: name -> (type, typer option). model_flags() puts them on a command.
_MODEL_FLAGS: dict[str, tuple[Any, Any]] = {
    "model": (str, MODEL),
    "prompt": (Optional[str], PROMPT),
    "negative_prompt": (Optional[str], NEGATIVE_PROMPT),
    "guidance": (Optional[float], GUIDANCE),
    "layer": (Optional[str], LAYER),
    "device": (str, DEVICE),
    "dtype": (str, DTYPE),
}
MODEL_FLAGS: Any = None
"""The default of a command's ``choice`` parameter: where :func:`model_flags` puts the model flags."""


@dataclass
class ModelChoice:
    """What the model flags ask for, checked before anything is loaded."""

    model: str
    device: str
    dtype: str
    prompt: Optional[str]
    negative_prompt: Optional[str]
    guidance: Optional[float]
    layer: Optional[str]

    @property
    def edit_guidance(self) -> float:
        """The guidance of an edit's denoising: 1 unless given, so that strength 0 gives the image back."""
        return 1.0 if self.guidance is None else self.guidance

    @property
    def text(self) -> dict[str, Any]:
        """The prompt keywords of the library's calls."""
        return {"prompt": self.prompt, "negative_prompt": self.negative_prompt}


def model_choice(
    model: str = "builtin",
    device: str = "cpu",
    dtype: str = "float32",
    prompt: Optional[str] = None,
    negative_prompt: Optional[str] = None,
    guidance: Optional[float] = None,
    layer: Optional[str] = None,
) -> ModelChoice:
    """The model flags, each checked by its flag's name."""
    check_choice("--dtype", dtype, tuple(DTYPES))
    if guidance is not None:
        guidance = check_float("--guidance", guidance, low=0.0, high=MAX_GUIDANCE)
    for flag, text in (("--prompt", prompt), ("--negative-prompt", negative_prompt), ("--layer", layer)):
        if text is not None and (not text.strip() or len(text) > 10_000):
            raise InvalidParameterError(f"{flag} must be a non-empty text of at most 10000 characters")
    return ModelChoice(model, device, dtype, prompt, negative_prompt, guidance, layer)


def model_flags(*, layer: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the model flags, declared once here: it takes them as one checked ``choice``.

    The command declares ``choice: ModelChoice = MODEL_FLAGS``; in the signature typer reads,
    that parameter becomes ``--model``, ``--prompt``, ``--negative-prompt``, ``--guidance``,
    ``--layer`` (unless ``layer=False``), ``--device`` and ``--dtype``, in that place of
    ``--help``. Their values are checked by :func:`model_choice` (a bad one ends the command
    with its message) and handed to the command as a :class:`ModelChoice`.
    """
    names = [name for name in _MODEL_FLAGS if layer or name != "layer"]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        hints = typing.get_type_hints(command)
        params: list[inspect.Parameter] = []
        for p in inspect.signature(command).parameters.values():
            if p.name == "choice":
                kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
                params += [
                    inspect.Parameter(n, kind, default=_MODEL_FLAGS[n][1], annotation=_MODEL_FLAGS[n][0]) for n in names
                ]
            else:
                params.append(p.replace(annotation=hints.get(p.name, p.annotation)))

        @functools.wraps(command)
        def with_model_flags(**kwargs: Any) -> Any:
            flags = {name: kwargs.pop(name) for name in names}
            with handled():
                choice = model_choice(**flags)
            return command(choice=choice, **kwargs)

        with_model_flags.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        with_model_flags.__annotations__ = {p.name: p.annotation for p in params}
        return with_model_flags

    return decorate


def check_guidance_used(choice: ModelChoice, *, sampling: bool, denoising: bool, without: str) -> None:
    """Refuse ``--guidance`` and ``--negative-prompt`` where the command would not use them.

    Guidance acts where the command samples (``sample``, a ``--seed`` start: the given scale,
    else ``DEFAULT_GUIDANCE``) or denoises edits (:attr:`ModelChoice.edit_guidance`). A negative
    prompt acts only through a guidance scale above 1. ``without`` says why guidance has no
    place otherwise ("an image is inverted without guidance", say).
    """
    if choice.guidance is not None and not (sampling or denoising):
        raise InvalidParameterError(f"--guidance has no effect here: {without}; it applies to a --seed start")
    scales = [choice.guidance if choice.guidance is not None else DEFAULT_GUIDANCE] if sampling else []
    scales += [choice.edit_guidance] if denoising else []
    if choice.negative_prompt is not None and not any(scale > 1 for scale in scales):
        why = without if not scales else f"the guidance here is {max(scales):g}"
        raise InvalidParameterError(
            f"--negative-prompt has no effect without guidance above 1 ({why}); give --guidance above 1, or leave it out"
        )


def check_basis_options(tol: float, max_memory: str) -> dict[str, Any]:
    """``--tol`` and ``--max-memory``, checked by their flags' names: the basis options of the library's calls."""
    tol = check_float("--tol", tol, low=0.0, high=1.0, low_open=True)
    parse_memory("--max-memory", max_memory)
    return {"tol": tol, "max_memory": max_memory}


def pipeline(choice: ModelChoice | str) -> Pipeline:
    """The diffusion model named on the command line; text flags refused for a model without text."""
    if isinstance(choice, str):
        choice = model_choice(choice)
    pipe = load(choice.model, device=choice.device, dtype=choice.dtype)
    if not pipe.has_text:
        given = [
            flag
            for flag, value in (
                ("--prompt", choice.prompt),
                ("--negative-prompt", choice.negative_prompt),
                ("--guidance", choice.guidance),
            )
            if value is not None
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise InvalidParameterError(
                f"{choice.model} is not a text model: {' and '.join(given)} {verb} only to Stable Diffusion models"
            )
    if choice.layer is not None:
        pipe.h_map(0.5, 2, layer=choice.layer)  # an unknown block fails here, before any long work
    return pipe


def check_t_steps(t: float, steps: int) -> tuple[float, int]:
    """``--t`` and ``--steps``, checked before any model work."""
    return check_fraction("--t", t), check_int("--steps", steps, high=MAX_STEPS)


def read_start_image(spec: str) -> np.ndarray:
    """``world:N`` / ``world:scary-face`` (the face world), ``builtin:N`` (the N-th built-in real face) or an image file."""
    from ..diffusion import start_face
    from ..faces import builtin, read_image, world

    if spec.startswith("world:"):
        try:
            return start_face("builtin", spec[len("world:") :])
        except InvalidParameterError:
            names = ", ".join("world:" + n.replace(" ", "-") for n in world.NAMED)
            raise InvalidParameterError(f"{spec!r}: use world:0 to world:{world.MAX_GALLERY - 1}, or {names}") from None
    if spec.startswith("builtin:"):
        try:
            return start_face("builtin-lfw", spec[len("builtin:") :])
        except InvalidParameterError:
            raise InvalidParameterError(f"{spec!r}: use builtin:0 to builtin:{len(builtin('faces')) - 1}") from None
    return read_image(spec, color=True)


def parse_mask(text: str) -> tuple[int, ...] | np.ndarray:
    """``--mask``: a box ``"x0,y0,x1,y1"`` (whole pixels), or a black-and-white image file (white = inside)."""
    parts = text.split(",")
    if len(parts) == 4:
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise InvalidParameterError(f"--mask as a box is four whole numbers x0,y0,x1,y1; got {text!r}") from None
    from ..faces import read_image

    try:
        image = read_image(text)
    except SvdlensError as err:
        raise InvalidParameterError(f"--mask is a box x0,y0,x1,y1 or a mask image file: {err}") from None
    return image > 0.5


def parse_strengths(text: str) -> list[float]:
    """``"-3:3:7"`` (start:stop:count) or ``"-2,0,2"`` → finite strengths, at most MAX_STRENGTHS of them."""
    try:
        if ":" in text:
            a, b, n = text.split(":")
            ends, count = [float(a), float(b)], int(n)
        else:
            values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InvalidParameterError(
            f"--strength must look like -3:3:7 (start:stop:count) or -2,0,2; got {text!r}"
        ) from None
    if ":" in text:
        if not 1 <= count <= MAX_STRENGTHS:
            raise InvalidParameterError(f"--strength asks for {count} strengths; give 1 to {MAX_STRENGTHS}")
        if not all(math.isfinite(v) for v in ends):
            raise InvalidParameterError(f"--strength must be finite numbers; got {text!r}")
        return [float(v) for v in np.linspace(ends[0], ends[1], count)]
    if len(values) > MAX_STRENGTHS:
        raise InvalidParameterError(f"--strength lists {len(values)} strengths; give at most {MAX_STRENGTHS}")
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameterError(f"--strength must be finite numbers; got {text!r}")
    return values


def start(
    pipe: Pipeline,
    image: str | None,
    seed: int | None,
    t: float,
    steps: int,
    choice: ModelChoice | None = None,
    *,
    with_image: bool = True,
) -> StartPoint:
    """Where the command starts (:meth:`Pipeline.start_point`): ``--image`` inverted by DDIM, or ``--seed``'s sample stopped at t.

    ``--guidance`` is the sampling's for a seed; an image is inverted without guidance. A
    seed's image is generated in the same walk as its x_t, once per command.
    """
    if (image is None) == (seed is None):
        raise InvalidParameterError("give --image FILE (or builtin:N) or --seed N")
    choice = choice or model_choice()
    where: dict[str, Any] = {"seed": seed} if image is None else {"image": read_start_image(str(image))[None]}
    guidance = choice.guidance if image is None else None
    return pipe.start_point(**where, t=t, steps=steps, guidance_scale=guidance, with_image=with_image, **choice.text)


def label(spec: str) -> str:
    """A short row label for an image spec."""
    return spec if is_builtin_spec(spec) else Path(spec).name


def is_builtin_spec(spec: str) -> bool:
    """Whether a start-image spec names a built-in face (``builtin:N``, ``world:...``) rather than a file."""
    return spec.startswith(("builtin:", "world:"))

"""Loading a diffusion model: the built-in DDPM, a diffusers folder (pipeline or bare UNet), or a hub id.

Only what svdlens can honour is loaded: safetensors weights, the UNets of pixel DDPMs
(``UNet2DModel``) and of Stable Diffusion (``UNet2DConditionModel`` with ``AutoencoderKL``,
``CLIPTextModel`` and ``CLIPTokenizer``), and a scheduler config that diffusers' DDIM can run.
Anything else is refused by name before any weights are read.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from ..exceptions import InputNote, InvalidParameterError, MissingDependencyError, ModelLoadError
from ._modules import quiet_loading
from ._pipeline import Pipeline
from ._schedule import check_scheduler

__all__ = ["load", "SUPPORTED_PIPELINES", "DTYPES"]

SUPPORTED_PIPELINES = {
    "DDPMPipeline": ("unet", "scheduler"),
    "DDIMPipeline": ("unet", "scheduler"),
    "StableDiffusionPipeline": ("unet", "scheduler", "vae", "text_encoder", "tokenizer"),
}
"""Pipeline classes (``model_index.json``'s ``_class_name``) and the components svdlens loads."""

SUPPORTED_COMPONENTS = {
    "unet": ("UNet2DModel", "UNet2DConditionModel"),
    "vae": ("AutoencoderKL",),
    "text_encoder": ("CLIPTextModel",),
    "tokenizer": ("CLIPTokenizer", "CLIPTokenizerFast"),
}
IGNORED_COMPONENTS = ("safety_checker", "feature_extractor", "image_encoder")  # not part of the method

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
"""The dtypes a model may be loaded in, by name."""

PICKLES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
FLAT_FILES = {"unet": "config.json", "scheduler": "scheduler_config.json"}

# What a hub download fetches: configs, tokenizer files and the components' safetensors, not the
# single-file checkpoints, fp16/EMA variants or the safety checker that some repositories also hold.
HUB_FILES = [
    "*.json",
    "*.txt",
    "diffusion_pytorch_model.safetensors",
    "*/diffusion_pytorch_model.safetensors",
    "*/model.safetensors",
]
HUB_SKIPPED = ["safety_checker/*", "feature_extractor/*"]


def load(
    source: str | Path = "builtin",
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
) -> Pipeline:
    """The built-in face DDPM, a diffusers folder, or a hub id (when online), ready for the method.

    Accepted folders: a diffusers pipeline folder (with ``model_index.json``) of a
    ``DDPMPipeline`` or ``DDIMPipeline`` (a ``UNet2DModel`` in pixel space) or a
    ``StableDiffusionPipeline`` (``UNet2DConditionModel``, ``AutoencoderKL``, ``CLIPTextModel``,
    ``CLIPTokenizer``); or a bare ``UNet2DModel`` folder (``config.json``, directly or in
    ``unet/``) with an optional scheduler config. The safety checker and feature extractor of
    a Stable Diffusion folder are not loaded: the method does not use them. Weights must be
    safetensors; pickles (``.bin``, ``.pt``, ...) can run code when loaded and are refused.
    Sampling is always DDIM with eta = 0, built from the folder's scheduler config as
    diffusers' ``DDIMPipeline`` does (``DDIMScheduler.from_config``).

    Parameters
    ----------
    source : str or pathlib.Path
        ``"builtin"`` (the 32×32 grayscale face DDPM shipped in the package), a folder, or a
        hub id ``org/name`` (fetched with ``huggingface_hub`` when online, safetensors and
        configs only).
    device : torch.device or str, optional
        Where the model runs: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    dtype : torch.dtype or str, optional
        The weights' dtype: ``float32`` (default), ``float16`` or ``bfloat16``. Jacobian
        products always run in float32 (see :meth:`Pipeline.h_map`).

    Returns
    -------
    Pipeline
        The model, its scheduler and, for Stable Diffusion, its VAE and text encoder.

    Raises
    ------
    ModelLoadError
        Missing or pickle-only weights, invalid JSON, an unsupported pipeline class or
        component (the message names the supported ones), a scheduler setting diffusers' DDIM
        cannot honour, a device that is not there, or a hub id while offline.
    InvalidParameterError
        A dtype that is not one of ``DTYPES``.

    Warns
    -----
    InputNote
        A bare UNet folder without a scheduler config: a 1000-step linear schedule is used.

    Examples
    --------
    >>> import svdlens as sl
    >>> pipe = sl.diffusion.load("builtin")
    >>> pipe.size, pipe.channels, pipe.T, pipe.is_latent, pipe.has_text
    (32, 1, 1000, False, False)
    """
    torch_device = _device(device)
    torch_dtype = _dtype(dtype)
    if source == "builtin":
        from ._builtin import BUILTIN_DIR

        if not (BUILTIN_DIR / "diffusion_pytorch_model.safetensors").exists():
            raise ModelLoadError(
                f"the built-in weights are missing from {BUILTIN_DIR}; reinstall svdlens (they ship in the "
                "package) or train them again with svdlens.diffusion.train_faces"
            )
        folder = BUILTIN_DIR
    else:
        folder = Path(str(source))
        if not folder.exists():
            folder = _fetch(str(source))
    if not folder.is_dir():
        raise ModelLoadError(
            f"{folder} is a file; give the diffusers model folder (with model_index.json or config.json)"
        )
    parts = _read_pipeline(folder) if (folder / "model_index.json").exists() else _read_bare_unet(folder)
    return Pipeline(**parts, device=torch_device, dtype=torch_dtype, source=str(source))


def _device(device: torch.device | str | None) -> torch.device:
    try:
        out = torch.device(device or "cpu")
    except (RuntimeError, TypeError) as err:
        raise ModelLoadError(f"unknown device {device!r} ({err}); use cpu, cuda, cuda:N or mps") from None
    if out.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} asked for, but this machine has no CUDA GPU torch can use; use cpu")
    if out.type == "cuda" and out.index is not None and out.index >= torch.cuda.device_count():
        raise ModelLoadError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if out.type == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError(f"device {device!r} asked for, but MPS is not available here; use cpu")
    if out.type not in ("cpu", "cuda", "mps"):
        raise ModelLoadError(f"device {device!r} is not supported; use cpu, cuda, cuda:N or mps")
    return out


def _dtype(dtype: torch.dtype | str | None) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    name = str(dtype).removeprefix("torch.")
    if name in ("half", "fp16"):
        name = "float16"
    if name in ("bf16",):
        name = "bfloat16"
    if name not in DTYPES:
        raise InvalidParameterError(f"unknown dtype {dtype!r}: dtype must be one of {', '.join(DTYPES)}")
    return DTYPES[name]


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError) as err:
        raise ModelLoadError(f"{path} is not valid JSON ({err}); fix or replace the model's config") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} holds {type(data).__name__}, not a JSON object; fix or replace it")
    return data


def _check_safetensors(folder: Path) -> None:
    """Refuse a weights folder without safetensors, naming the pickles it has instead."""
    if list(folder.glob("*.safetensors")):
        return
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLES)
    found = f" (only the pickle files {', '.join(pickles)})" if pickles else ""
    raise ModelLoadError(
        f"{folder} has no safetensors weights{found}; pickles can run code when loaded, so they are refused. "
        "Convert them to safetensors first."
    )


def _scheduler(folder: Path | None, config: dict | None = None) -> Any:
    """A ``DDIMScheduler`` from the folder's scheduler config (whatever scheduler class saved it)."""
    from diffusers import DDIMScheduler

    if config is None:
        if folder is None or not (folder / "scheduler_config.json").exists():
            return None
        config = _json(folder / "scheduler_config.json")
    check_scheduler(config)
    try:
        return DDIMScheduler.from_config(config)
    except Exception as err:  # diffusers raises NotImplementedError, ValueError, ... on a bad config
        raise ModelLoadError(f"diffusers' DDIMScheduler cannot take the scheduler config of {folder}: {err}") from None


def _read_bare_unet(folder: Path) -> dict:
    """A bare ``UNet2DModel`` folder (``config.json`` here or in ``unet/``) and its scheduler, if any."""
    unet_dir = folder / "unet" if (folder / "unet" / "config.json").exists() else folder
    if not (unet_dir / "config.json").exists():
        raise ModelLoadError(
            f"{folder} is not a diffusers model folder: no model_index.json (a pipeline) and no config.json (a UNet)"
        )
    config = _json(unet_dir / "config.json")
    if config.get("_class_name", "UNet2DModel") != "UNet2DModel":
        raise ModelLoadError(
            f"{unet_dir} holds a {config['_class_name']}; a folder without model_index.json must hold a "
            "UNet2DModel. For Stable Diffusion, give the whole pipeline folder."
        )
    _check_safetensors(unet_dir)
    scheduler = None
    for where in (folder / "scheduler", folder):
        scheduler = scheduler or _scheduler(where)
    if scheduler is None:
        from diffusers import DDIMScheduler

        warnings.warn(
            f"no scheduler config in {folder}: using a 1000-step linear DDIM schedule", InputNote, stacklevel=3
        )
        scheduler = DDIMScheduler(num_train_timesteps=1000)
    return {"unet": _load_component("unet", "UNet2DModel", unet_dir), "scheduler": scheduler}


def _read_pipeline(folder: Path) -> dict:
    """The components of a pipeline folder that the method uses, after checking every class by name."""
    index = _json(folder / "model_index.json")
    name = index.get("_class_name")
    if name not in SUPPORTED_PIPELINES:
        raise ModelLoadError(
            f"{folder} is a {name or 'pipeline of unknown class'}; svdlens supports "
            f"{', '.join(SUPPORTED_PIPELINES)} (pixel DDPMs and Stable Diffusion 1.x/2.x)"
        )
    parts: dict[str, Any] = {}
    for component in SUPPORTED_PIPELINES[name]:
        entry = index.get(component)
        if not isinstance(entry, list) or len(entry) != 2 or entry[1] is None:
            raise ModelLoadError(f"{folder}/model_index.json has no {component}; a {name} needs one")
        library, cls = entry
        sub = folder / component
        if not sub.is_dir() and (folder / FLAT_FILES.get(component, "-")).exists():
            sub = folder  # the older flat layout of google/ddpm-*: config.json and scheduler_config.json at the top
        if not sub.is_dir():
            raise ModelLoadError(f"{folder} has no {component}/ folder, which its model_index.json names")
        if component == "scheduler":
            files = list(sub.glob("scheduler_config.json"))
            if not files:
                raise ModelLoadError(f"{sub} has no scheduler_config.json")
            parts["scheduler"] = _scheduler(sub)
            continue
        allowed = SUPPORTED_COMPONENTS[component]
        if cls not in allowed:
            raise ModelLoadError(
                f"{folder}: the {component} is a {library}.{cls}; svdlens supports {' or '.join(allowed)} there"
            )
        unet_class = "UNet2DConditionModel" if name == "StableDiffusionPipeline" else "UNet2DModel"
        if component == "unet" and cls != unet_class:
            raise ModelLoadError(f"{folder}: a {name} must have a {unet_class}; this one has a {cls}")
        parts[component] = _load_component(component, cls, sub)
    return parts


def _load_component(component: str, cls: str, folder: Path) -> Any:
    """One component from its folder: safetensors only, errors as ModelLoadError."""
    if component == "tokenizer":
        transformers = _transformers()
        try:
            return getattr(transformers, cls).from_pretrained(folder)
        except Exception as err:
            raise ModelLoadError(f"cannot load the {cls} from {folder}: {err}") from None
    _check_safetensors(folder)
    if component == "text_encoder":
        module = _transformers()
        kwargs = {}
    else:
        import diffusers as module

        kwargs = {"low_cpu_mem_usage": False}  # accelerate is not a dependency
    try:
        with quiet_loading():
            return getattr(module, cls).from_pretrained(folder, use_safetensors=True, **kwargs)
    except Exception as err:
        raise ModelLoadError(f"cannot load a {cls} from {folder}: {err}") from None


def _transformers():
    try:
        import transformers
    except ImportError:
        raise MissingDependencyError(
            "Stable Diffusion's text encoder needs transformers: pip install 'transformers>=4.40'"
        ) from None
    return transformers


def _fetch(text: str) -> Path:
    """A hub id, downloaded (configs, tokenizer files and safetensors only) when online."""
    if text.count("/") != 1 or text.startswith((".", "/", "~")):
        raise ModelLoadError(f"no model folder {text!r}, and it does not look like a hub id (org/name)")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise ModelLoadError(
            f"could not fetch {text!r} from the hub: HF_HUB_OFFLINE is set, so this machine is offline. "
            "Download the model elsewhere and pass its folder instead."
        )
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(text, allow_patterns=HUB_FILES, ignore_patterns=HUB_SKIPPED)
    except Exception as err:
        raise ModelLoadError(
            f"could not fetch {text!r} from the hub ({type(err).__name__}). If this machine is offline, "
            "download the model elsewhere and pass its folder instead."
        ) from None
    return Path(path)

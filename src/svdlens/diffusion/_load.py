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
from ._builtin import builtin_folder
from ._config import (
    check_folder_files,
    check_schedule,
    check_scheduler_config,
    check_together,
    check_tokenizer,
    check_tokenizer_files,
    check_unet_config,
    check_vae_config,
    class_name,
    one_line,
    read_json,
    text_config,
)
from ._modules import quiet_loading
from ._pipeline import Pipeline
from ._schedule import check_scheduler
from ._weights import build_on_meta, check_finite, check_header, check_loading_report, weights_files

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
    strict: bool = True,
) -> Pipeline:
    """The built-in face DDPM, a diffusers folder, or a hub id (when online), ready for the method.

    Accepted folders: a diffusers pipeline folder (with ``model_index.json``) of a
    ``DDPMPipeline`` or ``DDIMPipeline`` (a ``UNet2DModel`` in pixel space) or a
    ``StableDiffusionPipeline`` (``UNet2DConditionModel``, ``AutoencoderKL``, ``CLIPTextModel``,
    ``CLIPTokenizer``); or a bare ``UNet2DModel`` folder (``config.json``, directly or in
    ``unet/``) with an optional scheduler config. The safety checker and feature extractor of
    a Stable Diffusion folder are not loaded: the method does not use them. Weights must be
    safetensors; pickles (``.bin``, ``.pt``, ...) can run code when loaded and are refused.
    Sampling is DDIM (eta = 0 unless ``sample(eta=...)``), built from the folder's scheduler
    config as diffusers' ``DDIMPipeline`` does (``DDIMScheduler.from_config``).

    Nothing loads into silent wrong output (docs/real-models.md, "What is checked at load"):
    the folder's config and tokenizer files must be regular files (links to them are
    followed) under ``MAX_CONFIG_BYTES``, JSON nested at most ``MAX_JSON_DEPTH`` deep; every
    config number that sizes an allocation is checked against its cap, and the settings that
    would give wrong numbers (a VAE ``scaling_factor`` ≤ 0, NaN or decreasing betas, a text
    encoder of another width than the U-Net's cross-attention) are refused, all before any
    model is built. Each component's weights must match its config exactly (no tensor missing,
    unexpected or of another shape; shapes are checked from the safetensors header before
    anything is allocated) and be finite.

    Parameters
    ----------
    source : str or pathlib.Path
        ``"builtin"`` (the 64×64 grayscale face-world DDPM shipped in the package),
        ``"builtin-lfw"`` (the 32×32 real-face DDPM, also shipped), a folder, or a
        hub id ``org/name`` (fetched with ``huggingface_hub`` when online, safetensors and
        configs only).
    device : torch.device or str, optional
        Where the model runs: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    dtype : torch.dtype or str, optional
        The weights' dtype: ``float32`` (default), ``float16`` or ``bfloat16``. Jacobian
        products always run in float32 (see :meth:`Pipeline.h_map`).
    strict : bool, optional
        ``True`` (default): weights with a tensor missing or one the model does not have are
        refused. ``False``: they load with a warning listing them, as torch's
        ``load_state_dict(strict=False)`` does; the missing tensors are then initialised at
        random (seed 0, the same every time), so the model is not the trained one. Tensors of
        another shape and non-finite weights are refused either way.

    Returns
    -------
    Pipeline
        The model, its scheduler and, for Stable Diffusion, its VAE and text encoder.

    Raises
    ------
    ModelLoadError
        Missing or pickle-only weights, weights that do not match the config or are not
        finite, a config or tokenizer file that is not a regular file, too large, not JSON or
        malformed, a config number out of range, components that do not fit each other, an
        unsupported pipeline class or component (the message names the supported ones), a
        scheduler setting diffusers' DDIM cannot honour, a device that is not there, or a hub
        id while offline.
    InvalidParameterError
        A dtype that is not one of ``DTYPES``, or a ``strict`` that is not a bool.

    Warns
    -----
    InputNote
        A bare UNet folder without a scheduler config: a 1000-step linear schedule is used.
    SvdlensWarning
        With ``strict=False``: the tensors missing from the weights, or not in the model.

    Examples
    --------
    >>> import svdlens as sl
    >>> pipe = sl.diffusion.load("builtin")
    >>> pipe.size, pipe.channels, pipe.T, pipe.is_latent, pipe.has_text
    (64, 1, 1000, False, False)
    """
    torch_device = _device(device)
    torch_dtype = _dtype(dtype)
    if not isinstance(strict, bool):
        raise InvalidParameterError(f"strict must be True or False; got {strict!r}")
    builtin = builtin_folder(source)
    if builtin is not None:
        if not (builtin / "diffusion_pytorch_model.safetensors").exists():
            raise ModelLoadError(
                f"the built-in weights are missing from {builtin}; reinstall svdlens (they ship in the "
                "package) or train them again with svdlens.diffusion.train_faces"
            )
        folder = builtin
    else:
        folder = Path(str(source))
        if not folder.exists():
            folder = _fetch(str(source))
    if not folder.is_dir():
        raise ModelLoadError(
            f"{folder} is a file; give the diffusers model folder (with model_index.json or config.json)"
        )
    read = _read_pipeline if (folder / "model_index.json").exists() else _read_bare_unet
    parts = read(folder, torch_dtype, strict)
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


def _scheduler(folder: Path) -> Any:
    """A ``DDIMScheduler`` from the folder's scheduler config (whatever scheduler class saved it), checked."""
    from diffusers import DDIMScheduler

    path = folder / "scheduler_config.json"
    if not path.exists():
        return None
    config = read_json(path)
    class_name(config, path)
    check_scheduler(config)
    check_scheduler_config(config, path)
    try:
        scheduler = DDIMScheduler.from_config(config)
    except Exception as err:  # diffusers raises NotImplementedError, ValueError, ... on a bad config
        raise ModelLoadError(
            f"diffusers' DDIMScheduler cannot take the scheduler config of {folder}: {one_line(err)}"
        ) from None
    check_schedule(scheduler, path)
    return scheduler


def _read_bare_unet(folder: Path, dtype: torch.dtype, strict: bool) -> dict:
    """A bare ``UNet2DModel`` folder (``config.json`` here or in ``unet/``) and its scheduler, if any."""
    from diffusers import DDIMScheduler, UNet2DModel

    check_folder_files(folder)
    unet_dir = folder / "unet" if (folder / "unet" / "config.json").exists() else folder
    if not (unet_dir / "config.json").exists():
        raise ModelLoadError(
            f"{folder} is not a diffusers model folder: no model_index.json (a pipeline) and no config.json (a UNet)"
        )
    config = read_json(unet_dir / "config.json")
    cls = class_name(config, unet_dir / "config.json", "UNet2DModel")
    if cls != "UNet2DModel":
        raise ModelLoadError(
            f"{unet_dir} holds a {cls}; a folder without model_index.json must hold a "
            "UNet2DModel. For Stable Diffusion, give the whole pipeline folder."
        )
    check_unet_config(config, unet_dir / "config.json", UNet2DModel)
    if unet_dir != folder:
        check_folder_files(unet_dir)
    scheduler = None
    for where in (folder / "scheduler", folder):
        if where.is_dir() and scheduler is None:
            if where != folder:
                check_folder_files(where)
            scheduler = _scheduler(where)
    if scheduler is None:
        warnings.warn(
            f"no scheduler config in {folder}: using a 1000-step linear DDIM schedule", InputNote, stacklevel=3
        )
        scheduler = DDIMScheduler(num_train_timesteps=1000)
    return {"unet": _load_component("unet", "UNet2DModel", unet_dir, config, dtype, strict), "scheduler": scheduler}


def _read_pipeline(folder: Path, dtype: torch.dtype, strict: bool) -> dict:
    """The components of a pipeline folder that the method uses.

    Every class is checked by name, every file read safely and every config checked (alone
    and against the others) before anything is built; then the scheduler and tokenizer, and
    last the weights.
    """
    import diffusers

    check_folder_files(folder)
    index = read_json(folder / "model_index.json")
    name = class_name(index, folder / "model_index.json")
    if name not in SUPPORTED_PIPELINES:
        raise ModelLoadError(
            f"{folder} is a {name or 'pipeline of unknown class'}; svdlens supports "
            f"{', '.join(SUPPORTED_PIPELINES)} (pixel DDPMs and Stable Diffusion 1.x/2.x)"
        )
    dirs: dict[str, Path] = {}
    classes: dict[str, str] = {}
    for component in SUPPORTED_PIPELINES[name]:
        entry = index.get(component)
        if not isinstance(entry, list) or len(entry) != 2 or entry[1] is None:
            raise ModelLoadError(f"{folder}/model_index.json has no {component}; a {name} needs one")
        if not all(isinstance(e, str) for e in entry):
            raise ModelLoadError(
                f"{folder}/model_index.json: the {component} entry must be [library, class name], two strings; "
                f"got {json.dumps(entry)[:80]}"
            )
        library, cls = entry
        sub = folder / component
        if not sub.is_dir() and (folder / FLAT_FILES.get(component, "-")).exists():
            sub = folder  # the older flat layout of google/ddpm-*: config.json and scheduler_config.json at the top
        if not sub.is_dir():
            raise ModelLoadError(f"{folder} has no {component}/ folder, which its model_index.json names")
        if component != "scheduler":
            allowed = SUPPORTED_COMPONENTS[component]
            if cls not in allowed:
                raise ModelLoadError(
                    f"{folder}: the {component} is a {library}.{cls}; svdlens supports {' or '.join(allowed)} there"
                )
        unet_class = "UNet2DConditionModel" if name == "StableDiffusionPipeline" else "UNet2DModel"
        if component == "unet" and cls != unet_class:
            raise ModelLoadError(f"{folder}: a {name} must have a {unet_class}; this one has a {cls}")
        if sub != folder:
            check_folder_files(sub)
        dirs[component], classes[component] = sub, cls
    if not (dirs["scheduler"] / "scheduler_config.json").exists():
        raise ModelLoadError(f"{dirs['scheduler']} has no scheduler_config.json")

    # Every config, alone and together, before anything is built.
    configs: dict[str, dict] = {
        c: read_json(dirs[c] / "config.json") for c in ("unet", "vae", "text_encoder") if c in dirs
    }
    unet = check_unet_config(configs["unet"], dirs["unet"] / "config.json", getattr(diffusers, classes["unet"]))
    vae = check_vae_config(configs["vae"], dirs["vae"] / "config.json") if "vae" in dirs else None
    text = (
        text_config(configs["text_encoder"], dirs["text_encoder"] / "config.json") if "text_encoder" in dirs else None
    )
    check_together(unet, vae, text, folder)

    parts: dict[str, Any] = {"scheduler": _scheduler(dirs["scheduler"])}
    if "tokenizer" in dirs:
        parts["tokenizer"] = _tokenizer(classes["tokenizer"], dirs["tokenizer"], text)
    for component in ("unet", "vae", "text_encoder"):
        if component in dirs:
            built_from = text if component == "text_encoder" else configs[component]
            parts[component] = _load_component(
                component, classes[component], dirs[component], built_from, dtype, strict
            )
    return parts


def _tokenizer(cls: str, folder: Path, text: Any) -> Any:
    """The tokenizer, its files checked first and its lengths against the text encoder's after."""
    check_tokenizer_files(folder)
    transformers = _transformers()
    try:
        with quiet_loading():
            tokenizer = getattr(transformers, cls).from_pretrained(folder)
    except Exception as err:
        raise ModelLoadError(f"cannot load the {cls} from {folder}: {one_line(err)}") from None
    if text is not None:
        check_tokenizer(tokenizer, text, folder)
    return tokenizer


def _load_component(component: str, cls: str, folder: Path, config: Any, dtype: torch.dtype, strict: bool) -> Any:
    """One model component: its weights' header checked against its config, loaded, then checked.

    ``config`` is the parsed config (diffusers) or the ``CLIPTextConfig`` (transformers, which
    then does not read the file again). Weights are safetensors only. Any tensor the library
    initialises (missing ones, with ``strict=False``) is drawn with torch's generator seeded 0
    and the caller's random state left as it was, so that a model loads the same every time.
    """
    if component == "text_encoder":
        module: Any = getattr(_transformers(), cls)
        build, stem, kwargs = (lambda: module(config)), "model", {"config": config}
    else:
        import diffusers

        module = getattr(diffusers, cls)
        build, stem, kwargs = (
            (lambda: module.from_config(config)),
            "diffusion_pytorch_model",
            {"low_cpu_mem_usage": False},
        )
    files = weights_files(folder, stem)
    check_header(component, folder, files, build_on_meta(component, folder / "config.json", build), strict=strict)
    try:
        with quiet_loading(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model, report = module.from_pretrained(folder, use_safetensors=True, output_loading_info=True, **kwargs)
    except Exception as err:  # accelerate-free loading raises RuntimeError, OSError, ... on bad weights
        raise ModelLoadError(f"cannot load a {cls} from {folder}: {one_line(err)}") from None
    check_loading_report(component, folder, report, strict=strict)
    check_finite(component, folder, model, dtype)
    return model


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

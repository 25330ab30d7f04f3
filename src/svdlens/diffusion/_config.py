"""A model folder's files read safely, and its configs checked before any model is built.

Every file of a model folder that svdlens, diffusers or transformers reads as text is checked
here first:

- it is a regular file. A link is followed (the files of a Hugging Face cache snapshot are links
  into ``blobs/``), but its target must be a regular file too: never a FIFO (reading one waits
  for a writer forever), a device such as ``/dev/zero`` (endless) or a socket;
- it holds at most :data:`~svdlens._defaults.MAX_CONFIG_BYTES`, is UTF-8, and a JSON file nests
  lists and objects at most :data:`~svdlens._defaults.MAX_JSON_DEPTH` deep.

Then every config number that sizes an allocation is checked against a cap, and every setting
that would give wrong numbers without an error (a VAE ``scaling_factor`` of 0, a NaN or
decreasing beta, a text encoder narrower than the U-Net's cross-attention) is refused by name,
all before diffusers builds anything. The libraries read the files again when they load: the
folder is checked once, before. What they loaded is checked after (the weights against the
config, each tensor finite: see ``_weights``), so a folder rewritten during the load cannot
load into silent wrong output either.
"""

from __future__ import annotations

import inspect
import json
import os
import stat
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._defaults import MAX_CONFIG_BYTES, MAX_JSON_DEPTH, MAX_SAMPLE_SIZE, MAX_TRAIN_TIMESTEPS
from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, ModelLoadError

__all__ = [
    "open_regular",
    "parse_json",
    "read_json",
    "check_folder_files",
    "class_name",
    "check_scheduler_config",
    "check_schedule",
    "check_unet_config",
    "check_vae_config",
    "text_config",
    "check_together",
    "check_tokenizer_files",
    "check_tokenizer",
    "one_line",
    "LIMITS",
]

TEXT_SUFFIXES = (".json", ".txt", ".jinja")  # what the libraries read whole, as text
FIX = "fix or replace the model's config"

LIMITS = {
    "channels": 64,  # in_channels, out_channels, latent_channels (SD: 4, inpainting: 9)
    "blocks": 8,  # len(block_out_channels) (SD: 4)
    "width": 8192,  # every block width, attention dimension, cross_attention_dim, hidden_size (SD: ≤ 1280)
    "layers": 16,  # layers_per_block, transformer_layers_per_block (SD: 2 and 1)
    "groups": 1024,  # norm_num_groups (SD: 32)
    "text_layers": 128,  # num_hidden_layers of the text encoder (SD: 12, SD 2: 23)
    "heads": 256,  # num_attention_heads of the text encoder (SD: 12)
    "positions": 4096,  # max_position_embeddings (CLIP: 77)
    "vocabulary": 1_000_000,  # vocab_size (CLIP: 49408)
}
"""Caps on the architecture numbers of a config, beside the ``MAX_*`` of ``_defaults``."""

# The settings of a U-Net that need inputs svdlens never gives it (x_t, the timestep, the prompt only).
EXTRA_CONDITIONING = (
    "class_embed_type",
    "num_class_embeds",
    "addition_embed_type",
    "encoder_hid_dim_type",
    "time_cond_proj_dim",
)

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


# ----------------------------------------------------------------------------- files
def _what(path: Path) -> str:
    """The path as the user named it, and where it leads if it is a link."""
    return f"{path} (a link to {os.path.realpath(path)})" if path.is_symlink() else str(path)


def _not_regular(path: Path, mode: int) -> ModelLoadError:
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return ModelLoadError(
        f"{_what(path)} is {kind}, not a regular file; a model folder holds only files (or links to files): "
        "replace it with the real file"
    )


def _stat(path: Path) -> os.stat_result:
    """The stat of what a path leads to (links followed), with broken links named."""
    try:
        return path.stat()
    except FileNotFoundError:
        raise ModelLoadError(f"{_what(path)} is a broken link: download or copy the model again") from None
    except OSError as err:
        raise ModelLoadError(f"cannot read {_what(path)}: {err.strerror}") from None


def open_regular(path: Path, *, limit: int | None = MAX_CONFIG_BYTES) -> IO[bytes]:
    """A regular file opened for reading (links followed), at most ``limit`` bytes long.

    The file's kind is checked before it is opened (opening a tape device rewinds it) and
    again on the open descriptor, which is opened without blocking: a FIFO put in its place
    in between is refused, not waited on.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    limit : int or None, optional
        The largest size taken, in bytes; ``None`` for no cap (weights).

    Returns
    -------
    binary file
        Open for reading; the caller closes it.

    Raises
    ------
    ModelLoadError
        Not there, a broken link, not a regular file, or larger than ``limit``.
    """
    if not stat.S_ISREG(_stat(path).st_mode):
        raise _not_regular(path, _stat(path).st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise ModelLoadError(f"cannot read {_what(path)}: {err.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _not_regular(path, info.st_mode)
    if limit is not None and info.st_size > limit:
        os.close(fd)
        raise ModelLoadError(
            f"{_what(path)} is {info.st_size:,} bytes, more than the {limit:,} a config or tokenizer file may "
            f"have; {FIX}"
        )
    return os.fdopen(fd, "rb")


def _read_text(path: Path) -> str:
    with open_regular(path) as f:
        raw = f.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:  # it grew after the check
        raise ModelLoadError(f"{_what(path)} is more than {MAX_CONFIG_BYTES:,} bytes; {FIX}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ModelLoadError(f"{_what(path)} is not UTF-8 text ({err.reason} at byte {err.start}); {FIX}") from None


def _depth(data: Any) -> int:
    """How deep lists and objects nest (an object of numbers: 1), stopping past the cap."""
    deepest, todo = 0, [(data, 1)]
    while todo and deepest <= MAX_JSON_DEPTH:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        todo.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_json(text: str | bytes, where: str) -> Any:
    """JSON text parsed, nested at most ``MAX_JSON_DEPTH`` deep; errors name ``where``.

    Parameters
    ----------
    text : str or bytes
        The JSON text.
    where : str
        What it is, for the messages (a path).

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    ModelLoadError
        Not JSON, or nested deeper than the cap.

    Examples
    --------
    >>> parse_json('{"a": [1, 2]}', "x.json")
    {'a': [1, 2]}
    """
    deep = ModelLoadError(f"{where} nests lists and objects more than {MAX_JSON_DEPTH} deep; {FIX}")
    try:
        data = json.loads(text)
    except RecursionError:
        raise deep from None
    except ValueError as err:
        raise ModelLoadError(f"{where} is not valid JSON ({err}); {FIX}") from None
    if isinstance(data, (dict, list)) and _depth(data) > MAX_JSON_DEPTH:
        raise deep
    return data


def read_json(path: Path) -> dict:
    """A config file read safely (:func:`open_regular`) and parsed (:func:`parse_json`): a JSON object.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    dict
        Its object.

    Raises
    ------
    ModelLoadError
        Not a regular file, too large, not UTF-8, not JSON, nested too deep, or not an object.
    """
    data = parse_json(_read_text(path), _what(path))
    if not isinstance(data, dict):
        raise ModelLoadError(f"{_what(path)} holds a JSON {type(data).__name__}, not an object; {FIX}")
    return data


def check_folder_files(folder: Path) -> None:
    """Every entry of a model folder is a folder or a regular file, text files under the cap.

    The libraries open the files of a component folder by name (configs, tokenizer files,
    weights); what they may read must not be a FIFO, a device or a socket, nor a text file
    too large to read. Links are followed and their targets checked.

    Parameters
    ----------
    folder : pathlib.Path
        A pipeline folder or one component's folder (not searched further down).

    Raises
    ------
    ModelLoadError
        A broken link, or an entry that is neither a folder nor a regular file, or a
        ``.json``/``.txt`` file over ``MAX_CONFIG_BYTES``.
    """
    for entry in sorted(folder.iterdir()):
        mode = _stat(entry)
        if stat.S_ISDIR(mode.st_mode):
            continue
        if not stat.S_ISREG(mode.st_mode):
            raise _not_regular(entry, mode.st_mode)
        if entry.suffix in TEXT_SUFFIXES and mode.st_size > MAX_CONFIG_BYTES:
            raise ModelLoadError(
                f"{_what(entry)} is {mode.st_size:,} bytes, more than the {MAX_CONFIG_BYTES:,} a config or tokenizer "
                f"file may have; {FIX}"
            )


def class_name(config: dict, where: Path, default: str | None = None) -> str | None:
    """A config's ``_class_name``: a string, or ``default`` when it has none.

    Parameters
    ----------
    config : dict
        The parsed config.
    where : pathlib.Path
        Its file, for the message.
    default : str, optional
        The name taken when the config has none.

    Returns
    -------
    str or None
        The class name.

    Raises
    ------
    ModelLoadError
        A ``_class_name`` that is not a string (a list, an object, a number).
    """
    name = config.get("_class_name", default)
    if name is not None and not isinstance(name, str):
        raise ModelLoadError(
            f"{where}: _class_name must be a class name (a string), not a {type(name).__name__}; {FIX}"
        )
    return name


# ----------------------------------------------------------------------------- numbers
def _checked(where: Path, check: Any, key: str, value: Any, **limits: Any) -> Any:
    """One value through a ``_validation`` check, its error restated as a load error about ``where``."""
    try:
        return check(key, value, **limits)
    except InvalidParameterError as err:
        raise ModelLoadError(f"{where}: {err}; {FIX}") from None


def _ints(where: Path, key: str, value: Any, high: int, *, nested: bool = False) -> list[int]:
    """A whole number or a list of them (lists of lists too when ``nested``), each in [1, high]."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ModelLoadError(f"{where}: {key} must not be empty; {FIX}")
    out: list[int] = []
    for item in items:
        if nested and isinstance(item, (list, tuple)):
            out += _ints(where, key, item, high)
        else:
            out.append(_checked(where, check_int, key, item, high=high))
    return out


def _with_defaults(cls: type, config: dict) -> dict:
    """A diffusers config with the class's defaults filled in for the keys it lacks."""
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items() if p.default is not p.empty}
    return {**defaults, **config}


def _refuse_quantized(config: dict, where: Path) -> None:
    if config.get("quantization_config") is not None:
        raise ModelLoadError(f"{where} is a quantized model (quantization_config); svdlens loads plain weights only")


def _blocks(cfg: dict, where: Path) -> list[int]:
    """``block_out_channels`` with the block lists and group norm that go with it."""
    widths = _ints(where, "block_out_channels", cfg["block_out_channels"], LIMITS["width"])
    if not isinstance(cfg["block_out_channels"], (list, tuple)) or len(widths) > LIMITS["blocks"]:
        raise ModelLoadError(f"{where}: block_out_channels must be a list of 1 to {LIMITS['blocks']} widths; {FIX}")
    for key in ("down_block_types", "up_block_types"):
        types = cfg.get(key)
        if types is None:
            continue
        if not isinstance(types, (list, tuple)) or not all(isinstance(t, str) for t in types):
            raise ModelLoadError(f"{where}: {key} must be a list of block class names; {FIX}")
        if len(types) != len(widths):
            raise ModelLoadError(
                f"{where}: {key} names {len(types)} blocks but block_out_channels gives {len(widths)} widths; {FIX}"
            )
    _ints(where, "layers_per_block", cfg["layers_per_block"], LIMITS["layers"])
    groups = cfg.get("norm_num_groups")
    if groups is not None:
        groups = _checked(where, check_int, "norm_num_groups", groups, high=LIMITS["groups"])
        if any(w % groups for w in widths):
            raise ModelLoadError(
                f"{where}: every block width must be a multiple of norm_num_groups={groups}; "
                f"block_out_channels is {widths}; {FIX}"
            )
    return widths


def _side(cfg: dict, where: Path) -> int:
    """The square ``sample_size`` (an int, or [h, w] with h == w), capped."""
    size = cfg.get("sample_size")
    if size is None:
        raise ModelLoadError(f"{where} gives no sample_size (the side of the images it makes); {FIX}")
    sides = _ints(where, "sample_size", size, MAX_SAMPLE_SIZE)
    if len(set(sides)) != 1 or len(sides) > 2:
        raise ModelLoadError(f"{where}: sample_size is {size}; svdlens works on square images (one side); {FIX}")
    return sides[0]


def check_scheduler_config(config: dict, where: Path) -> None:
    """A scheduler config's numbers, before diffusers builds the schedule from them.

    ``num_train_timesteps`` is a whole number in [1, ``MAX_TRAIN_TIMESTEPS``] (it sizes the
    schedule's arrays); the betas a schedule is built from are finite, in (0, 1) and increase
    (``beta_start < beta_end`` for the linear schedules; ``trained_betas``, if given, one per
    timestep and non-decreasing); ``steps_offset`` is a timestep; the clipping and
    thresholding settings are finite and positive.

    Parameters
    ----------
    config : dict
        The parsed scheduler config.
    where : pathlib.Path
        Its file, for the messages.

    Raises
    ------
    ModelLoadError
        The first setting out of range, named with what was given.

    Examples
    --------
    >>> from pathlib import Path
    >>> check_scheduler_config({"num_train_timesteps": 1000, "beta_end": 0.012}, Path("s.json"))
    >>> check_scheduler_config({"beta_start": 0.02, "beta_end": 0.001}, Path("s.json"))
    Traceback (most recent call last):
    ...
    svdlens.exceptions.ModelLoadError: s.json: beta_start (0.02) must be below beta_end (0.001): the noise grows along the diffusion; fix or replace the model's config
    """
    n = _checked(
        where, check_int, "num_train_timesteps", config.get("num_train_timesteps", 1000), high=MAX_TRAIN_TIMESTEPS
    )
    betas = config.get("trained_betas")
    if betas is not None:
        if not isinstance(betas, list) or len(betas) != n:
            raise ModelLoadError(
                f"{where}: trained_betas must be a list of num_train_timesteps = {n} numbers, one per timestep; {FIX}"
            )
        for beta in betas:
            _checked(where, check_float, "every trained beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
        if np.any(np.diff(np.asarray(betas, dtype=np.float64)) < 0):
            raise ModelLoadError(
                f"{where}: trained_betas must not decrease (the noise grows along the diffusion); {FIX}"
            )
    elif config.get("beta_schedule", "linear") in ("linear", "scaled_linear"):
        start, end = (
            _checked(
                where, check_float, key, config.get(key, default), low=0.0, high=1.0, low_open=True, high_open=True
            )
            for key, default in (("beta_start", 0.0001), ("beta_end", 0.02))
        )
        if start >= end:
            raise ModelLoadError(
                f"{where}: beta_start ({start:g}) must be below beta_end ({end:g}): the noise grows along the "
                f"diffusion; {FIX}"
            )
    if "steps_offset" in config:
        _checked(where, check_int, "steps_offset", config["steps_offset"], low=0, high=n - 1)
    for key in ("clip_sample_range", "sample_max_value"):
        if key in config:
            _checked(where, check_float, key, config[key], low=0.0, low_open=True)
    if "dynamic_thresholding_ratio" in config:
        _checked(
            where, check_float, "dynamic_thresholding_ratio", config["dynamic_thresholding_ratio"],
            low=0.0, high=1.0, low_open=True,
        )  # fmt: skip


def check_schedule(scheduler: Any, where: Path) -> None:
    """The noise levels diffusers built: ᾱ_t finite, in [0, 1], positive but at the end, never rising.

    Parameters
    ----------
    scheduler : diffusers.DDIMScheduler
        The scheduler built from the config.
    where : pathlib.Path
        The config's file, for the message.

    Raises
    ------
    ModelLoadError
        Noise levels that DDIM cannot divide by or that do not fall along the diffusion.
    """
    a = scheduler.alphas_cumprod.double().numpy()
    ok = np.isfinite(a).all() and (a <= 1).all() and (a[:-1] > 0).all() and a[-1] >= 0 and (np.diff(a) <= 0).all()
    if not ok:
        raise ModelLoadError(
            f"the schedule built from {where} has noise levels (alphas_cumprod) that are not finite and falling "
            f"in (0, 1]; {FIX}"
        )


def check_unet_config(config: dict, where: Path, cls: type) -> dict:
    """A U-Net config's numbers against the caps, and its inputs those svdlens gives.

    ``sample_size`` (square, at most ``MAX_SAMPLE_SIZE``), the channels, block widths, layer
    counts, attention and cross-attention widths, each within :data:`LIMITS`; block widths
    multiples of ``norm_num_groups``; as many block types as widths; ``out_channels ==
    in_channels`` (the U-Net predicts noise of x_t's shape); no class, SDXL-style or LCM
    conditioning (svdlens gives the U-Net x_t, the timestep and the prompt only).

    Parameters
    ----------
    config : dict
        The parsed ``config.json``.
    where : pathlib.Path
        Its file, for the messages.
    cls : type
        ``diffusers.UNet2DModel`` or ``diffusers.UNet2DConditionModel`` (whose defaults fill
        the keys the file lacks).

    Returns
    -------
    dict
        The config with the class's defaults filled in.

    Raises
    ------
    ModelLoadError
        The first setting out of range, named with what was given.
    """
    _refuse_quantized(config, where)
    cfg = _with_defaults(cls, config)
    _side(cfg, where)
    channels = [_checked(where, check_int, k, cfg[k], high=LIMITS["channels"]) for k in ("in_channels", "out_channels")]
    if channels[0] != channels[1]:
        learned = (
            " (a learned-variance model, which svdlens does not support)" if channels[1] == 2 * channels[0] else ""
        )
        raise ModelLoadError(
            f"{where}: the U-Net maps in_channels={channels[0]} to out_channels={channels[1]}{learned}; svdlens needs "
            "a U-Net that predicts noise of x_t's shape"
        )
    _blocks(cfg, where)
    for key in ("attention_head_dim", "num_attention_heads", "cross_attention_dim", "time_embedding_dim"):
        if cfg.get(key) is not None:
            _ints(where, key, cfg[key], LIMITS["width"])
    if cfg.get("transformer_layers_per_block") is not None:
        _ints(where, "transformer_layers_per_block", cfg["transformer_layers_per_block"], LIMITS["layers"], nested=True)
    if cfg.get("num_train_timesteps") is not None:  # a learned time embedding's table
        _checked(where, check_int, "num_train_timesteps", cfg["num_train_timesteps"], high=MAX_TRAIN_TIMESTEPS)
    for key in EXTRA_CONDITIONING:
        if cfg.get(key) is not None:
            raise ModelLoadError(
                f"{where}: the U-Net takes an extra input ({key}={cfg[key]!r}); svdlens gives it x_t, the timestep "
                "and (for Stable Diffusion) the prompt only"
            )
    return cfg


def check_vae_config(config: dict, where: Path) -> dict:
    """An ``AutoencoderKL`` config: caps as for the U-Net, and the latent scaling used.

    ``scaling_factor`` is finite and positive (the latents are divided by it), ``shift_factor``
    finite or absent, ``latents_mean``/``latents_std`` (if given) finite, one per latent
    channel, the standard deviations positive.

    Parameters
    ----------
    config : dict
        The parsed ``vae/config.json``.
    where : pathlib.Path
        Its file, for the messages.

    Returns
    -------
    dict
        The config with ``AutoencoderKL``'s defaults filled in.

    Raises
    ------
    ModelLoadError
        The first setting out of range, named with what was given.
    """
    from diffusers import AutoencoderKL

    _refuse_quantized(config, where)
    cfg = _with_defaults(AutoencoderKL, config)
    for key in ("in_channels", "out_channels", "latent_channels"):
        _checked(where, check_int, key, cfg[key], high=LIMITS["channels"])
    _blocks(cfg, where)
    _side(cfg, where)
    _checked(where, check_float, "scaling_factor", cfg["scaling_factor"], low=0.0, low_open=True)
    if cfg.get("shift_factor") is not None:
        _checked(where, check_float, "shift_factor", cfg["shift_factor"])
    for key, low_open in (("latents_mean", False), ("latents_std", True)):
        values = cfg.get(key)
        if values is None:
            continue
        if not isinstance(values, list) or len(values) != cfg["latent_channels"]:
            raise ModelLoadError(f"{where}: {key} must be a list of latent_channels = {cfg['latent_channels']} numbers")
        for v in values:
            _checked(where, check_float, key, v, **({"low": 0.0, "low_open": True} if low_open else {}))
    return cfg


def text_config(config: dict, where: Path) -> Any:
    """A ``CLIPTextConfig`` from the text encoder's parsed config, its numbers within :data:`LIMITS`.

    A whole ``CLIPConfig`` (text and vision) gives its ``text_config``. ``hidden_size`` is a
    multiple of ``num_attention_heads``.

    Parameters
    ----------
    config : dict
        The parsed ``text_encoder/config.json``.
    where : pathlib.Path
        Its file, for the messages.

    Returns
    -------
    transformers.CLIPTextConfig
        The config transformers builds the model from (passed to ``from_pretrained``, so the
        file is not read again).

    Raises
    ------
    ModelLoadError
        A number out of range or of the wrong type, or a config transformers cannot read.
    """
    from transformers import CLIPTextConfig

    _refuse_quantized(config, where)
    if config.get("model_type") == "clip" and isinstance(config.get("text_config"), dict):
        config = config["text_config"]
    caps = {
        "hidden_size": LIMITS["width"],
        "intermediate_size": 4 * LIMITS["width"],
        "projection_dim": LIMITS["width"],
        "num_hidden_layers": LIMITS["text_layers"],
        "num_attention_heads": LIMITS["heads"],
        "max_position_embeddings": LIMITS["positions"],
        "vocab_size": LIMITS["vocabulary"],
    }
    for key, high in caps.items():
        if key in config:
            _checked(where, check_int, key, config[key], high=high)
    try:
        cfg = CLIPTextConfig.from_dict(config)
    except Exception as err:  # transformers raises TypeError, ValueError, ... on a malformed config
        raise ModelLoadError(
            f"{where}: transformers cannot read this CLIPTextConfig ({one_line(err)}); {FIX}"
        ) from None
    for key, high in caps.items():  # the defaults transformers filled in
        _checked(where, check_int, key, getattr(cfg, key), high=high)
    if cfg.hidden_size % cfg.num_attention_heads:
        raise ModelLoadError(
            f"{where}: hidden_size={cfg.hidden_size} must be a multiple of num_attention_heads="
            f"{cfg.num_attention_heads}; {FIX}"
        )
    return cfg


def check_together(unet: dict, vae: dict | None, text: Any, folder: Path) -> None:
    """The components of one pipeline fit each other: latent channels, image side, text width.

    Parameters
    ----------
    unet : dict
        The U-Net's checked config (:func:`check_unet_config`).
    vae : dict or None
        The VAE's checked config, for a latent model.
    text : transformers.CLIPTextConfig or None
        The text encoder's config, for a text model.
    folder : pathlib.Path
        The pipeline folder, for the messages.

    Raises
    ------
    ModelLoadError
        A U-Net whose channels are not the VAE's latent channels, a decoded image side over
        ``MAX_SAMPLE_SIZE``, or a text encoder whose width (``hidden_size``) is not the
        U-Net's ``cross_attention_dim``.
    """
    if vae is not None:
        if unet["in_channels"] != vae["latent_channels"]:
            raise ModelLoadError(
                f"{folder}: the U-Net takes in_channels={unet['in_channels']} but the VAE makes latent_channels="
                f"{vae['latent_channels']}; the two come from different models"
            )
        side = _side(unet, folder / "unet" / "config.json") * 2 ** (len(vae["block_out_channels"]) - 1)
        if side > MAX_SAMPLE_SIZE:
            raise ModelLoadError(
                f"{folder}: its images would be {side}×{side} (the U-Net's sample_size times the VAE's factor), "
                f"more than {MAX_SAMPLE_SIZE}×{MAX_SAMPLE_SIZE}; {FIX}"
            )
    if text is not None:
        dims = unet.get("cross_attention_dim")
        dims = set(dims) if isinstance(dims, (list, tuple)) else {dims}
        if dims != {text.hidden_size}:
            raise ModelLoadError(
                f"{folder}: the text encoder gives prompts of width hidden_size={text.hidden_size}, but the U-Net's "
                f"cross-attention takes cross_attention_dim={unet.get('cross_attention_dim')}; the two come from "
                "different models: use a text encoder of that width"
            )


# ----------------------------------------------------------------------------- tokenizer
def check_tokenizer_files(folder: Path) -> None:
    """A CLIP tokenizer folder holds what the tokenizer needs, each file well formed.

    Either ``tokenizer.json`` (the fast tokenizer's single file) or both ``vocab.json`` (an
    object of token → id) and ``merges.txt`` (one merge ``a b`` a line, after an optional
    ``#version`` line). Every JSON file there is read as :func:`read_json` reads.

    Parameters
    ----------
    folder : pathlib.Path
        The tokenizer's folder.

    Raises
    ------
    ModelLoadError
        A file missing, malformed, too large or not a regular file, named with what to do.
    """
    for path in sorted(folder.glob("*.json")):
        read_json(path)
    has = {name: (folder / name).exists() for name in ("tokenizer.json", "vocab.json", "merges.txt")}
    if not has["tokenizer.json"] and not (has["vocab.json"] and has["merges.txt"]):
        missing = [name for name in ("vocab.json", "merges.txt") if not has[name]]
        raise ModelLoadError(
            f"the tokenizer in {folder} has no {' and no '.join(missing)} (and no tokenizer.json); a CLIP tokenizer "
            "needs vocab.json and merges.txt, or tokenizer.json: copy them from the model's repository"
        )
    if has["vocab.json"]:
        vocab = read_json(folder / "vocab.json")
        bad = next((k for k, v in vocab.items() if isinstance(v, bool) or not isinstance(v, int) or v < 0), None)
        if bad is not None:
            raise ModelLoadError(
                f"{folder / 'vocab.json'}: every token must map to a whole-number id ≥ 0; {bad!r} maps to "
                f"{vocab[bad]!r}; {FIX}"
            )
    if has["merges.txt"]:
        for number, line in enumerate(_read_text(folder / "merges.txt").splitlines(), 1):
            if line.strip() and not line.startswith("#version") and len(line.split()) != 2:
                raise ModelLoadError(
                    f"{folder / 'merges.txt'}, line {number}: a merge is two tokens 'a b', not {line[:40]!r}; {FIX}"
                )


def check_tokenizer(tokenizer: Any, text: Any, folder: Path) -> None:
    """The loaded tokenizer fits the text encoder: prompt length and vocabulary.

    Parameters
    ----------
    tokenizer : transformers.CLIPTokenizer
        The loaded tokenizer.
    text : transformers.CLIPTextConfig
        The text encoder's config.
    folder : pathlib.Path
        The tokenizer's folder, for the messages.

    Raises
    ------
    ModelLoadError
        Prompts padded to more tokens than the text encoder has positions, or more tokens
        than its embedding has rows.
    """
    if tokenizer.model_max_length > text.max_position_embeddings:
        length = tokenizer.model_max_length
        raise ModelLoadError(
            f"the tokenizer in {folder} pads prompts to {length if length < 10**9 else 'an unbounded number of'} "
            f"tokens, but the text encoder has {text.max_position_embeddings} positions; set model_max_length to "
            f"{text.max_position_embeddings} in tokenizer_config.json"
        )
    if len(tokenizer) > text.vocab_size:
        raise ModelLoadError(
            f"the tokenizer in {folder} has {len(tokenizer)} tokens, but the text encoder embeds only vocab_size="
            f"{text.vocab_size}; the two come from different models"
        )


def one_line(err: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, cut at ``limit`` characters."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""A component's weights checked against its config: before allocating, and after loading.

Before any weights are read, the safetensors header of each weights file (an 8-byte length,
then JSON: each tensor's dtype, shape and byte range) is read by hand, bounded, every byte
range checked against the file's size, as the safetensors library checks when it loads (a
header that claims more than the file holds is refused here, with its numbers). It is compared
with the model the config describes, built on PyTorch's ``meta`` device (shapes only, no
memory): a tensor of another shape is refused, and so is a config whose model needs more
numbers than the weights hold (tensors missing), before diffusers allocates the model.

After loading, diffusers' and transformers' own loading report (``output_loading_info=True``,
which knows how each library renames the keys of older checkpoints) must list no missing,
unexpected or mismatched tensor, and every tensor must be finite and fit the dtype asked for.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import torch

from .._defaults import MAX_MODEL_PARAMETERS
from ..exceptions import ModelLoadError, SvdlensWarning
from ._config import one_line, open_regular, parse_json, read_json
from ._modules import quiet_loading

__all__ = [
    "weights_files",
    "read_header",
    "build_on_meta",
    "check_header",
    "check_loading_report",
    "check_finite",
    "PICKLES",
]

PICKLES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")

ITEM_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
}  # fmt: skip
MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own cap on a header

SHOWN = 3  # keys named in a message


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN])
    return shown + (f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else "")


def weights_files(folder: Path, stem: str) -> list[Path]:
    """The safetensors files the library will load: ``<stem>.safetensors``, or the shards of its index.

    Parameters
    ----------
    folder : pathlib.Path
        The component's folder.
    stem : str
        ``"diffusion_pytorch_model"`` (diffusers) or ``"model"`` (transformers).

    Returns
    -------
    list of pathlib.Path
        One file, or the shards ``<stem>.safetensors.index.json`` names.

    Raises
    ------
    ModelLoadError
        No safetensors weights under that name (pickles are named and refused: they can run
        code when loaded), or an index naming files that are not plain safetensors files here.
    """
    single = folder / f"{stem}.safetensors"
    index = folder / f"{stem}.safetensors.index.json"
    if single.exists() or single.is_symlink():
        return [single]
    if index.exists():
        weight_map = read_json(index).get("weight_map")
        names = sorted(set(weight_map.values())) if isinstance(weight_map, dict) else []
        bad = [n for n in names if not isinstance(n, str) or Path(n).name != n or not n.endswith(".safetensors")]
        if not names or bad:
            raise ModelLoadError(
                f"{index}: weight_map must map each tensor to a .safetensors file in {folder}; fix or replace the "
                "model's weights"
            )
        return [folder / n for n in names]
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLES)
    others = sorted(p.name for p in folder.glob("*.safetensors"))
    found = (
        f" (only the pickle files {', '.join(pickles)})"
        if pickles
        else f" (only {', '.join(others)}, a variant svdlens does not load)"
        if others
        else ""
    )
    raise ModelLoadError(
        f"{folder} has no safetensors weights {stem}.safetensors{found}; pickles can run code when loaded, so they "
        "are refused. Convert the weights to safetensors first."
    )


def read_header(path: Path) -> dict[str, tuple[int, ...]]:
    """The tensors a safetensors file declares (name → shape), each checked against the file's size.

    Nothing but the header is read: its 8-byte length, at most 100 MB of JSON (the cap of the
    safetensors library), nested as :func:`~svdlens.diffusion._config.parse_json` allows.

    Parameters
    ----------
    path : pathlib.Path
        A safetensors file.

    Returns
    -------
    dict
        Tensor name → shape.

    Raises
    ------
    ModelLoadError
        Not a regular file, too short, or a header that is not JSON, names an unknown dtype,
        or declares a tensor whose bytes are not where it says (beyond the file's end, or not
        ``shape × dtype`` bytes long).
    """
    with open_regular(path, limit=None) as f:
        size = f.seek(0, 2)
        f.seek(0)
        head = f.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if length < 2 or length > min(size - 8, MAX_HEADER_BYTES):
            raise ModelLoadError(
                f"{path} is not a safetensors file: its header length ({length} bytes) does not fit its size "
                f"({size:,} bytes); replace the weights"
            )
        header = parse_json(f.read(length), str(path))
    if not isinstance(header, dict):
        raise ModelLoadError(f"{path} is not a safetensors file: its header is not a JSON object; replace the weights")
    data_bytes = size - 8 - length
    shapes = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        entry = _entry(info)
        if entry is None:
            raise ModelLoadError(
                f"{path}: the header's entry for {name!r} is not a tensor (dtype, shape, data_offsets); replace the "
                "weights"
            )
        dtype, shape, (begin, end) = entry
        nbytes = math.prod(shape) * ITEM_BYTES[dtype]
        if not 0 <= begin <= end <= data_bytes or end - begin != nbytes:
            raise ModelLoadError(
                f"{path} declares {name} of shape {shape} ({nbytes:,} bytes) at bytes {begin}–{end}, but the "
                f"file holds {data_bytes:,} bytes of data; the file is truncated or its header is wrong: replace it"
            )
        shapes[name] = shape
    return shapes


def _entry(info: Any) -> tuple[str, tuple[int, ...], tuple[int, int]] | None:
    """A header entry's dtype, shape and byte range, or None if it is not a well-formed tensor entry."""

    def whole(values: Any) -> bool:
        return isinstance(values, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)

    if not isinstance(info, dict) or info.get("dtype") not in ITEM_BYTES:
        return None
    shape: Any = info.get("shape")
    offsets: Any = info.get("data_offsets")
    if not whole(shape) or min(shape, default=0) < 0 or not whole(offsets) or len(offsets) != 2:
        return None
    return info["dtype"], tuple(shape), (offsets[0], offsets[1])


def _expected(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """The tensors a model's state dict holds (name → shape), tied parameters once."""
    keys = set(model.state_dict())
    named = [*model.named_parameters(), *model.named_buffers()]
    return {name: tuple(t.shape) for name, t in named if name in keys}


def check_header(component: str, folder: Path, files: list[Path], model: torch.nn.Module, *, strict: bool) -> None:
    """Before loading: the weights files' tensors against the model the config builds (on ``meta``).

    A tensor whose name the model has (as is, or under one leading prefix such as
    ``text_model.``) must have the model's shape. With ``strict``, the files must hold at
    least as many numbers as the model has: if not, tensors are missing whatever their names.
    The model must have at most ``MAX_MODEL_PARAMETERS`` numbers.

    Parameters
    ----------
    component : str
        ``"unet"``, ``"vae"`` or ``"text_encoder"``, for the messages.
    folder : pathlib.Path
        Its folder, for the messages.
    files : list of pathlib.Path
        Its safetensors files (:func:`weights_files`).
    model : torch.nn.Module
        The model its config describes, built on the meta device.
    strict : bool
        Refuse weights that hold fewer numbers than the model.

    Raises
    ------
    ModelLoadError
        A model over the cap, a tensor of another shape, or (``strict``) tensors missing.
    """
    expected = _expected(model)
    needed = sum(math.prod(s) for s in expected.values())
    if needed > MAX_MODEL_PARAMETERS:
        raise ModelLoadError(
            f"the {component}'s config describes a model of {needed:,} numbers, more than the {MAX_MODEL_PARAMETERS:,} "
            "svdlens loads; fix or replace the model's config"
        )
    found: dict[str, tuple[int, ...]] = {}
    for path in files:
        found.update(read_header(path))
    aligned = {}
    for name, shape in found.items():
        rest = name.split(".", 1)[-1]
        aligned[name if name in expected or rest not in expected else rest] = shape
    wrong = sorted(k for k, shape in aligned.items() if k in expected and shape != expected[k])
    if wrong:
        first = wrong[0]
        raise ModelLoadError(
            f"the {component}'s weights in {folder} do not match its config: {len(wrong)} tensor(s) of another shape ({_names(wrong)}; "
            f"{first} is {aligned[first]} in {files[0].name} but {expected[first]} for the config); replace the weights "
            "with ones saved for this config"
        )
    held = sum(math.prod(s) for s in found.values())
    if strict and held < needed:
        missing = sorted(set(expected) - set(aligned))
        raise ModelLoadError(
            f"the {component}'s weights in {folder} do not match its config: they hold {held:,} numbers, the config's model needs "
            f"{needed:,} (missing: {_names(missing) or 'under other names'}); replace the weights with ones saved for "
            "this config, or pass strict=False to load() to accept them"
        )


def check_loading_report(component: str, folder: Path, report: dict, *, strict: bool) -> None:
    """After loading: the library's own report (``output_loading_info=True``) lists nothing amiss.

    Parameters
    ----------
    component : str
        The component's name, for the messages.
    folder : pathlib.Path
        Its folder, for the messages.
    report : dict
        ``missing_keys``, ``unexpected_keys``, ``mismatched_keys`` and ``error_msgs``, as
        diffusers' and transformers' ``from_pretrained(..., output_loading_info=True)`` return.
    strict : bool
        Refuse missing and unexpected tensors; without it they are a warning.

    Raises
    ------
    ModelLoadError
        Mismatched shapes or loading errors; with ``strict``, missing or unexpected tensors.

    Warns
    -----
    SvdlensWarning
        Without ``strict``: the missing tensors (initialised at random, seed 0) and the
        unexpected ones (ignored).
    """
    missing = sorted(report.get("missing_keys") or ())
    unexpected = sorted(report.get("unexpected_keys") or ())
    mismatched = sorted(str(m[0]) for m in report.get("mismatched_keys") or ())
    errors = list(report.get("error_msgs") or ())
    if mismatched or errors:
        what = f"{len(mismatched)} tensor(s) of another shape ({_names(mismatched)})" if mismatched else errors[0]
        raise ModelLoadError(
            f"the {component}'s weights in {folder} do not match its config: {what}; replace the weights"
        )
    parts = [f"{len(missing)} tensor(s) missing ({_names(missing)})"] if missing else []
    parts += [f"{len(unexpected)} tensor(s) the model does not have ({_names(unexpected)})"] if unexpected else []
    if not parts:
        return
    problem = f"the {component}'s weights in {folder} do not match its config: {' and '.join(parts)}"
    if strict:
        raise ModelLoadError(
            f"{problem}; replace the weights with ones saved for this config, or pass strict=False to load() to "
            "accept them"
        )
    randomly = (
        "; the missing ones are initialised at random (seed 0), so this is not the trained model" if missing else ""
    )
    warnings.warn(f"{problem}: loaded anyway (strict=False){randomly}", SvdlensWarning, stacklevel=4)


def check_finite(component: str, folder: Path, module: torch.nn.Module, dtype: torch.dtype) -> None:
    """Every floating-point tensor of a loaded component is finite and fits ``dtype``.

    Parameters
    ----------
    component : str
        The component's name, for the messages.
    folder : pathlib.Path
        Its folder, for the messages.
    module : torch.nn.Module
        The loaded component.
    dtype : torch.dtype
        The dtype the pipeline will run it in.

    Raises
    ------
    ModelLoadError
        A tensor holding NaN or ±Inf (named, with how many), or values too large for ``dtype``
        (float16 holds at most 65504).
    """
    top = torch.finfo(dtype).max
    for name, tensor in module.state_dict().items():
        if not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        largest = float(torch.linalg.vector_norm(tensor.detach(), float("inf")))
        if not math.isfinite(largest):
            bad = int((~torch.isfinite(tensor)).sum())
            raise ModelLoadError(
                f"the {component}'s tensor {name} holds {bad:,} NaN or infinite value(s) ({folder}); the weights are "
                "corrupt: replace them"
            )
        if largest > top:
            raise ModelLoadError(
                f"the {component}'s tensor {name} holds values up to {largest:.3g}, more than {str(dtype).removeprefix('torch.')} "
                f"can hold ({top:.3g}); load it in float32"
            )


def build_on_meta(component: str, where: Path, build: Any) -> Any:
    """The model ``build()`` makes, on the meta device (shapes only), errors as :class:`ModelLoadError`.

    Parameters
    ----------
    component : str
        The component's name, for the messages.
    where : pathlib.Path
        Its config file, for the messages.
    build : callable
        Makes the model from its config.

    Returns
    -------
    torch.nn.Module
        The model, every tensor on ``meta``.

    Raises
    ------
    ModelLoadError
        The library cannot build a model from this config.
    """
    try:
        with quiet_loading(), torch.device("meta"):
            return build()
    except Exception as err:  # diffusers and transformers raise ValueError, TypeError, ... on a bad config
        raise ModelLoadError(
            f"cannot build the {component} from {where}: {one_line(err)}; fix or replace the model's config"
        ) from None

"""The ``svdlens jacobian`` job: a model from a Python file, an input, a layer; the local basis out."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..atomic import staged_output
from ..plotting import save_figure
from .basis import local_basis
from .figures import as_image, direction_images, spectrum_plot
from .layers import layer_map

__all__ = ["load_factory", "load_input", "run_jacobian", "parse_kwargs"]


def load_factory(spec: str) -> torch.nn.Module:
    """``FILE.py:factory`` → the module that ``factory()`` returns (the file's code runs: trust it)."""
    if ":" not in spec:
        raise ValueError(f"--model must look like FILE.py:factory; got {spec!r}")
    file, name = spec.rsplit(":", 1)
    path = Path(file)
    if not path.is_file():
        raise FileNotFoundError(f"no model file {path}")
    module_spec = importlib.util.spec_from_file_location(f"svdlens_user_model_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    factory = getattr(module, name, None)
    if factory is None:
        names = [n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")]
        raise ValueError(f"{path} has no {name!r}; callables there: {', '.join(names)}")
    model = factory()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def load_input(path, dtype=torch.float32) -> torch.Tensor:
    """``.npy`` as stored; an image as (1, C, H, W) in [0, 1] (C = 1 for grayscale, 3 for colour)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no input file {path}")
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{path} holds {arr.dtype}; the input must be numbers")
        return torch.as_tensor(np.asarray(arr, dtype=np.float64), dtype=dtype)
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = img.convert("L") if img.mode in ("L", "I", "I;16", "1", "P") else img.convert("RGB")
            arr = np.asarray(img, dtype=np.float64) / 255.0
    except Exception as err:
        raise ValueError(f"cannot read the image {path}: {err}") from None
    t = torch.as_tensor(arr, dtype=dtype)
    return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]


def parse_kwargs(items) -> dict:
    """``["timestep=10", "mode=fast"]`` → ``{"timestep": 10, "mode": "fast"}``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--kwarg needs KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        for cast in (int, float):
            try:
                out[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            out[key] = value
    return out


def run_jacobian(model_spec: str, layer: str, input_path, out, *, k: int = 10, tol: float = 1e-4,
                 forward_kwargs: dict | None = None, block_size: int | None = None) -> dict:
    """Compute the local basis of x ↦ model.<layer>(x) at the input; write figures, basis and summary."""
    model = load_factory(model_spec)
    x = load_input(input_path, dtype=next(model.parameters()).dtype if any(True for _ in model.parameters()) else torch.float32)
    f = layer_map(model, layer, **(forward_kwargs or {}))
    start = time.perf_counter()
    opts = {"block_size": block_size} if block_size else {}
    basis = local_basis(f, x, k=k, tol=tol, **opts)
    seconds = time.perf_counter() - start
    summary = {
        "model": model_spec,
        "layer": layer,
        "input": str(input_path),
        "input_shape": list(x.shape),
        "output_shape": list(basis.u.shape[1:]),
        "k": basis.k,
        "singular_values": basis.s.tolist(),
        "residuals": basis.residuals.tolist(),
        "converged": basis.converged,
        "n_jvp": basis.n_jvp,
        "n_vjp": basis.n_vjp,
        "jvp_mode": basis.info.get("jvp_mode"),
        "seconds": seconds,
        "cache_key": basis.key,
    }
    with staged_output(out, protect=[input_path]) as stage:
        save_figure(spectrum_plot(basis), stage / "spectrum.png")
        if as_image(basis.v[0]) is not None:
            save_figure(direction_images(basis), stage / "directions.png")
        basis.save(stage / "basis.safetensors")
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary

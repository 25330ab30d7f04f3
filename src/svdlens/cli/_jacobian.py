"""``svdlens jacobian``: a model from a Python file, an input, a layer; the local basis out."""

from __future__ import annotations

import importlib.util
import json
import time
import traceback
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import typer

from .._atomic import staged_output
from .._defaults import DEFAULT_K, MAX_K
from .._plotting import save_figure
from .._validation import check_int, check_optional_int
from ..exceptions import InputFileError, InvalidParameterError, MissingInputError, ModelError
from ..faces import read_image
from ..linalg._io import read_npy
from ..nets import layer_map, local_basis
from ..nets._figures import as_image, direction_images, spectrum_plot
from ._main import FORCE, JSON, QUIET, app, emit, handled, out_option, status

__all__ = ["jacobian_command", "load_factory", "load_input", "parse_kwargs", "run_jacobian"]


def _user_frame(err: BaseException, path: Path) -> str:
    frames = [fr for fr in traceback.extract_tb(err.__traceback__) if Path(fr.filename).resolve() == path.resolve()]
    if frames:
        return f"{frames[-1].filename}:{frames[-1].lineno}"
    if isinstance(err, SyntaxError) and err.lineno:
        return f"{err.filename}:{err.lineno}"
    return str(path)


def load_factory(spec: str) -> torch.nn.Module:
    """``FILE.py:factory`` → the module that ``factory()`` returns (the file's code runs: trust it)."""
    if ":" not in spec:
        raise InvalidParameterError(f"the model must look like FILE.py:factory; got {spec!r}")
    file, name = spec.rsplit(":", 1)
    path = Path(file)
    if not path.is_file():
        raise MissingInputError(f"no model file {path}")
    module_spec = importlib.util.spec_from_file_location(f"svdlens_user_model_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise ModelError(f"{path} is not a Python file that can be imported")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
        factory = getattr(module, name, None)
        if factory is None:
            names = [n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")]
            raise InvalidParameterError(f"{path} has no {name!r}; callables there: {', '.join(names)}")
        model = factory()
    except InvalidParameterError:
        raise
    except (Exception, SystemExit) as err:  # the user's code: report where it failed, whatever it raised
        what = (
            f"called SystemExit({err.code!r})" if isinstance(err, SystemExit) else f"raised {type(err).__name__}: {err}"
        )
        raise ModelError(f"the model file {what} (at {_user_frame(err, path)})") from None
    if not isinstance(model, torch.nn.Module):
        raise InvalidParameterError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def load_input(path, dtype=torch.float32) -> torch.Tensor:
    """``.npy`` as stored; an image as (1, C, H, W) in [0, 1] (C = 1 for grayscale, 3 for colour)."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"no input file {path}")
    if path.suffix.lower() == ".npy":
        arr = read_npy(path)
        if arr.dtype.kind not in "biuf":
            raise InputFileError(f"{path} holds {arr.dtype}; the input must be numbers")
        return torch.as_tensor(np.asarray(arr, dtype=np.float64), dtype=dtype)
    t = torch.as_tensor(read_image(path, color=True), dtype=dtype)
    return t[None, None] if t.ndim == 2 else t[None]


def parse_kwargs(items) -> dict:
    """``["timestep=10", "mode=fast"]`` → ``{"timestep": 10, "mode": "fast"}``."""
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise InvalidParameterError(f"--kwarg needs KEY=VALUE; got {item!r}")
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


def run_jacobian(
    model_spec: str,
    layer: str,
    input_path: str | Path,
    out: str | Path,
    *,
    k: int = DEFAULT_K,
    tol: float = 1e-4,
    forward_kwargs: dict | None = None,
    block_size: int | None = None,
    force: bool = False,
) -> dict:
    """Compute the local basis of x ↦ model.<layer>(x) at the input; write figures, basis and summary.

    Parameters
    ----------
    model_spec : str
        ``FILE.py:factory``: the model is what ``factory()`` returns (the file's code runs).
    layer : str
        The submodule whose output is h, named as in ``model.named_modules()``.
    input_path : str or pathlib.Path
        The input x: a ``.npy`` (as stored) or an image (``(1, C, H, W)`` in [0, 1]).
    out : str or pathlib.Path
        The output folder: ``spectrum.png``, ``directions.png`` (when v looks like an image),
        ``basis.safetensors`` and ``summary.json``.
    k : int
        How many singular triplets, at most ``MAX_K``.
    tol : float
        The residual tolerance of :func:`svdlens.local_basis`.
    forward_kwargs : dict, optional
        Passed to every forward call of the model.
    block_size : int, optional
        Vectors per Krylov block.
    force : bool
        Replace files in ``out`` that svdlens did not write.

    Returns
    -------
    dict
        The summary written to ``summary.json``: model, layer, input and output shapes, the
        singular values and residuals, whether they converged, the JVP and VJP counts, the
        JVP mode, seconds and the basis's cache key.

    Raises
    ------
    SvdlensError
        A bad ``k`` or ``block_size``, a model file that fails or returns no module, an
        unknown layer, an unreadable input, or an output folder in the way.
    """
    k = check_int("-k", k, high=MAX_K)
    block_size = check_optional_int("--block-size", block_size)
    model = load_factory(model_spec)
    params = list(model.parameters())
    x = load_input(input_path, dtype=params[0].dtype if params else torch.float32)
    f = layer_map(model, layer, **(forward_kwargs or {}))
    start = time.perf_counter()
    opts: dict[str, Any] = {"block_size": block_size} if block_size else {}
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
        "jvp_mode": basis.jvp_mode,
        "seconds": seconds,
        "cache_key": basis.key,
    }
    with staged_output(out, protect=[input_path], force=force) as stage:
        save_figure(spectrum_plot(basis), stage / "spectrum.png")
        if as_image(basis.v[0]) is not None:
            save_figure(direction_images(basis), stage / "directions.png")
        basis.save(stage / "basis.safetensors")
        (stage / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


@app.command("jacobian")
def jacobian_command(
    model: str = typer.Option(..., "--model", help="FILE.py:factory — a function that returns a torch.nn.Module."),
    layer: str = typer.Option(..., "--layer", help="The submodule whose output is h (as in model.named_modules())."),
    input: str = typer.Option(..., "--input", help="The point x: a .npy array, or an image (as 1×C×H×W in [0, 1])."),
    k: int = typer.Option(DEFAULT_K, "--k", "-k", help=f"Number of singular triplets (at most {MAX_K})."),
    tol: float = typer.Option(1e-4, "--tol", help="Residual tolerance."),
    kwarg: Optional[list[str]] = typer.Option(
        None, "--kwarg", help="Extra forward argument KEY=VALUE (repeatable), e.g. timestep=10."
    ),
    block_size: Optional[int] = typer.Option(
        None, "--block-size", help="Vectors per batched JVP/VJP (larger is faster on a GPU)."
    ),
    out: str = out_option(
        "out/jacobian", help="Folder for spectrum.png, directions.png, basis.safetensors, summary.json."
    ),
    force: bool = FORCE,
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """SVD of the Jacobian of x ↦ model.<layer>(x), matrix-free: directions v to move in, their effects u.

    Examples:

        svdlens jacobian --model mynet.py:build --layer encoder.3 --input x.npy -k 10 --out out/jac

        svdlens jacobian --model unet.py:load --layer mid_block --input face.png --kwarg timestep=600
    """
    with handled():
        with status(quiet or as_json, "computing the local basis (batched JVPs and VJPs)..."):
            summary = run_jacobian(
                model,
                layer,
                input,
                out,
                k=k,
                tol=tol,
                forward_kwargs=parse_kwargs(kwarg),
                block_size=block_size,
                force=force,
            )
    text = [
        f"J is {int(np.prod(summary['output_shape']))}×{int(np.prod(summary['input_shape']))}; top σ: "
        + ", ".join(f"{s:.4g}" for s in summary["singular_values"][:5])
        + f"; converged: {summary['converged']}; {summary['n_jvp']} JVPs, {summary['n_vjp']} VJPs "
        f"({summary['jvp_mode']}), {summary['seconds']:.1f} s",
        f"wrote {out}/",
    ]
    emit(summary, as_json=as_json, text=text)

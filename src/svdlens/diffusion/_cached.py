"""A model loaded once per process: :func:`load_cached`, the one cache behind the app, the video and dask tasks."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from ._builtin import builtin_folder
from ._load import load
from ._pipeline import Pipeline

__all__ = ["load_cached", "is_cached", "forget_cached"]

MAX_CACHED = 1
"""Models kept at once: one of several gigabytes is enough to hold; loading another lets the oldest go."""

_LOADED: dict[tuple[str, str, str], Pipeline] = {}
_LOCK = threading.Lock()  # one load at a time: two threads asking for the same model load it once


def _key(
    source: str | Path, device: torch.device | str | None, dtype: torch.dtype | str | None
) -> tuple[str, str, str]:
    """(source, device, dtype) spelled one way: a folder as its absolute path, ``None`` as the defaults."""
    text = str(source)
    if builtin_folder(text) is None and Path(text).exists():
        text = str(Path(text).resolve())
    try:
        place = str(torch.device(device or "cpu"))
    except (RuntimeError, TypeError):
        place = repr(device)  # not a device: load() refuses it with its own message
    kind = str(dtype or torch.float32).removeprefix("torch.")
    return text, place, kind


def load_cached(
    source: str | Path = "builtin",
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
) -> Pipeline:
    """:func:`svdlens.diffusion.load`, once per process for each source, device and dtype.

    The same arguments give the same :class:`Pipeline` object back (a folder by its absolute
    path, ``device=None`` as ``"cpu"``, ``dtype=None`` as ``float32``). Only the model loaded
    last is kept (``MAX_CACHED``), so that a long-lived process (the app, a dask worker) does
    not hold several models of gigabytes. A pipeline is shared: its methods keep no state
    between calls, so threads may use it together.

    Parameters
    ----------
    source : str or pathlib.Path
        As :func:`svdlens.diffusion.load` takes it.
    device : torch.device or str, optional
        Where the model runs (default: CPU).
    dtype : torch.dtype or str, optional
        The weights' dtype (default: float32).

    Returns
    -------
    Pipeline
        The model, loaded now or earlier in this process.

    Raises
    ------
    SvdlensError
        Whatever :func:`svdlens.diffusion.load` refuses (nothing is cached then).

    Examples
    --------
    >>> import svdlens as sl
    >>> sl.diffusion.load_cached("builtin") is sl.diffusion.load_cached("builtin", device="cpu", dtype="float32")
    True
    """
    key = _key(source, device, dtype)
    with _LOCK:
        if key in _LOADED:
            _LOADED[key] = _LOADED.pop(key)  # the most recently used last
            return _LOADED[key]
        pipe = load(source, device=device, dtype=dtype)
        _LOADED[key] = pipe
        while len(_LOADED) > MAX_CACHED:
            _LOADED.pop(next(iter(_LOADED)))
        return pipe


def forget_cached(
    source: str | Path = "builtin",
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
) -> bool:
    """Let the cached model for these arguments go (the next :func:`load_cached` loads it again).

    Parameters
    ----------
    source : str or pathlib.Path
        As :func:`load_cached` takes it.
    device : torch.device or str, optional
        As :func:`load_cached` takes it.
    dtype : torch.dtype or str, optional
        As :func:`load_cached` takes it.

    Returns
    -------
    bool
        Whether it was cached.
    """
    with _LOCK:
        return _LOADED.pop(_key(source, device, dtype), None) is not None


def is_cached(
    source: str | Path = "builtin",
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
) -> bool:
    """Whether :func:`load_cached` holds the model for these arguments now.

    Parameters
    ----------
    source : str or pathlib.Path
        As :func:`load_cached` takes it.
    device : torch.device or str, optional
        As :func:`load_cached` takes it.
    dtype : torch.dtype or str, optional
        As :func:`load_cached` takes it.

    Returns
    -------
    bool
        True when the next :func:`load_cached` with them loads nothing.
    """
    with _LOCK:
        return _key(source, device, dtype) in _LOADED

"""The torch modules of a pipeline: where they are placed, how they load quietly, how much memory a call takes."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["DiffusersModel", "OVERFLOW", "placed", "quiet_loading", "peak_bytes"]

DiffusersModel = Any
"""A diffusers or transformers model (typed loosely: their own annotations do not type-check)."""

OVERFLOW = "the model's weights or configuration are broken, or overflow in its dtype (load it in float32)"
"""What to do when a component's output is NaN or Inf (see :func:`svdlens._validation.check_finite`)."""


def placed(module: DiffusersModel, device: torch.device, dtype: torch.dtype) -> DiffusersModel:
    """A module on ``device`` in ``dtype`` (cast only when it differs), in eval mode and frozen."""
    module = module.to(device)
    if next(module.parameters()).dtype != dtype:
        module = module.to(dtype)
    return module.eval().requires_grad_(False)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No progress bars or info logs from diffusers and transformers while loading (svdlens reports its own)."""
    import diffusers
    import transformers

    bars = transformers.utils.logging.is_progress_bar_enabled()
    levels = diffusers.utils.logging.get_verbosity(), transformers.utils.logging.get_verbosity()
    transformers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers.utils.logging.set_verbosity(levels[0])
        transformers.utils.logging.set_verbosity(levels[1])
        if bars:
            transformers.utils.logging.enable_progress_bar()


class _LivePeak(TorchDispatchMode):
    """Every tensor the ops under it make, counted by storage while it lives; ``peak`` is the most at once."""

    def __init__(self, resident: set[int]) -> None:
        super().__init__()
        self.resident = resident  # storages that were there before (weights, inputs): not the call's
        self.refs: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.live = 0
        self.peak = 0

    def _release(self, key: int) -> None:
        self.refs[key] -= 1
        if not self.refs[key]:
            del self.refs[key]
            self.live -= self.sizes.pop(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key = storage.data_ptr()
            if key in self.resident or storage.nbytes() == 0:
                continue
            if key not in self.refs:
                self.refs[key] = 0
                self.sizes[key] = storage.nbytes()
                self.live += storage.nbytes()
                self.peak = max(self.peak, self.live)
            self.refs[key] += 1
            weakref.finalize(t, self._release, key)
        return out


def peak_bytes(call: Callable[[], Any], resident: Iterable[torch.Tensor]) -> int:
    """The most bytes of tensors that ``call()`` holds at one time, besides the ``resident`` ones.

    Every op's outputs are followed (a ``TorchDispatchMode``) from when they are made until
    the last tensor on their storage is freed; ``resident`` tensors (the weights, the inputs)
    were there before and are not counted. On the google/ddpm-celebahq-256 U-Net at one
    256×256 image this gives 336 MB for a no-grad forward pass, where each further image in a
    batch adds 360 MB of resident memory (CPU, peak RSS): the count follows what the kernels
    allocate, without the allocator's slack or the kernels' scratch space.

    Parameters
    ----------
    call : callable
        The work to measure, run once (under ``torch.no_grad`` if the caller wants it).
    resident : iterable of torch.Tensor
        Tensors that exist before and after: their storages are not counted.

    Returns
    -------
    int
        The peak, in bytes (at least 1).
    """
    mode = _LivePeak({t.untyped_storage().data_ptr() for t in resident})
    with mode:
        call()
    return max(1, mode.peak)

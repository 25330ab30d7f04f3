"""Torch on one thread, where its thread pool only gets in the way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["one_torch_thread"]


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread inside the block; the thread count is restored after.

    Two cases gain: products that run on numpy's threaded BLAS interleaved with torch's own pool
    (the pools spin against each other: measured 13× slower on 2 cores, see ``svdlens.svd``), and
    small models run an image at a time on a busy machine (the 32×32 real-face UNet's Jacobian
    directions were about 10× faster on one thread there).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)

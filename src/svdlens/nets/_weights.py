"""``weight_directions(W, k)``: "simplify it… could it be the weight matrix?"

The eigenvectors of WᵀW are the input directions a layer stretches most (the right singular
vectors of W). SeFa (Shen & Zhou 2021, "Closed-form factorization of latent semantics in
GANs") finds a generator's semantic directions this way, from its first layer's weights alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Union, overload

import numpy as np
import torch

from ..exceptions import SvdlensError
from ..linalg import svd

__all__ = ["weight_directions"]

Weight = Union[torch.Tensor, np.ndarray, torch.nn.Module]
"""A weight matrix or tensor, or a module with a ``.weight``."""


@overload
def weight_directions(
    weight: Weight | Sequence[Weight], k: int = ..., *, return_values: Literal[False] = ...
) -> torch.Tensor: ...


@overload
def weight_directions(
    weight: Weight | Sequence[Weight], k: int = ..., *, return_values: Literal[True]
) -> tuple[torch.Tensor, torch.Tensor]: ...


def weight_directions(
    weight: Weight | Sequence[Weight], k: int = 10, *, return_values: bool = False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The top-``k`` eigenvectors of WᵀW, descending: shape ``(k, in_features)``.

    Parameters
    ----------
    weight : torch.Tensor, numpy.ndarray, torch.nn.Module, or a list of them
        A Linear weight ``(out, in)``, a Conv weight ``(out, in, kh, kw)`` (directions come
        back shaped ``(k, in, kh, kw)``), a module with a ``.weight``, or a list of weights with
        the same input side, stacked (the eigenvectors of Σ WᵢᵀWᵢ).
    k : int
        How many directions, the most stretched first.
    return_values : bool
        Also return the eigenvalues (σ²).

    Returns
    -------
    torch.Tensor
        ``(k, *in_shape)`` the directions, orthonormal when flattened.
    torch.Tensor
        ``(k,)`` the eigenvalues of WᵀW, descending; only with ``return_values=True``.

    Raises
    ------
    SvdlensError
        A weight with fewer than 2 dimensions, stacked weights whose input sides differ, or
        ``k`` above the input size.

    Examples
    --------
    >>> import torch, svdlens as sl
    >>> W = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> V, lam = sl.weight_directions(W, k=1, return_values=True)
    >>> V.tolist(), lam.tolist()
    ([[1.0, 0.0]], [9.0])
    >>> sl.weight_directions(torch.nn.Conv2d(3, 8, 3), k=2).shape
    torch.Size([2, 3, 3, 3])
    """
    weights = weight if isinstance(weight, (list, tuple)) else [weight]
    mats = []
    for w in weights:
        w = w.weight if isinstance(w, torch.nn.Module) else w
        w = torch.as_tensor(w).detach()
        if w.ndim < 2:
            raise SvdlensError(f"a weight matrix needs at least 2 dimensions; got shape {tuple(w.shape)}")
        mats.append((w.reshape(w.shape[0], -1), tuple(w.shape[1:])))
    in_shape = mats[0][1]
    if any(s != in_shape for _, s in mats):
        raise SvdlensError(f"stacked weights must share their input side; got {[s for _, s in mats]}")
    W = torch.cat([m for m, _ in mats]).to(torch.float64 if mats[0][0].dtype == torch.float64 else torch.float32)
    res = svd(W, k, method="eig")
    V = res.Vt.reshape((k,) + in_shape)
    return (V, res.S**2) if return_values else V

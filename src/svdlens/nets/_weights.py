"""``weight_directions(W, k)``: "simplify it… could it be the weight matrix?"

The eigenvectors of WᵀW are the input directions a layer stretches most (the right singular
vectors of W). SeFa (Shen & Zhou 2021, "Closed-form factorization of latent semantics in
GANs") finds a generator's semantic directions this way, from its first layer's weights alone.
"""

from __future__ import annotations

import torch

from ..exceptions import SvdlensError
from ..linalg import svd

__all__ = ["weight_directions"]


def weight_directions(weight, k: int = 10, *, return_values: bool = False):
    """The top-``k`` eigenvectors of WᵀW, descending: shape ``(k, in_features)``.

    ``weight`` is a Linear weight ``(out, in)``, a Conv weight ``(out, in, kh, kw)`` (directions
    come back shaped ``(k, in, kh, kw)``), a module with a ``.weight``, or a list of weights with
    the same input side, stacked (the eigenvectors of Σ WᵢᵀWᵢ). ``return_values=True`` also
    returns the eigenvalues (σ²).
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

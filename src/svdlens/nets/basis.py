"""``local_basis(f, x, k)``: the top singular triplets of the Jacobian of f at x, shaped like x and f(x).

After Park et al. (2023), "Understanding the Latent Space of Diffusion Models through the Lens
of Riemannian Geometry": for f: X → H, the right singular vectors v of J = ∂f/∂x are the
directions to move in at x (a basis of the tangent space T_x), the left singular vectors u are
what those moves do in H, and ``J vᵢ = σᵢ uᵢ``. Here the SVD is the engine's certified Krylov
method on the matrix-free Jacobian rather than the paper's power iteration.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..linalg import Operator, svd
from .jacobian import JacobianOperator, jacobian
from .layers import LayerMap

__all__ = ["LocalBasis", "local_basis", "cache_key"]

DEFAULT_BLOCK = 8  # vectors per batched JVP/VJP in local_basis (see its docstring)


@dataclass
class LocalBasis:
    """The top-k singular triplets of J = ∂f/∂x at x.

    ``u`` (k, *f(x).shape), ``s`` (k,) descending, ``v`` (k, *x.shape), ``residuals`` (k,)
    relative to σ₁, ``n_jvp`` and ``n_vjp`` (vectors through each mode), ``converged``.
    """

    u: torch.Tensor
    s: torch.Tensor
    v: torch.Tensor
    residuals: torch.Tensor
    n_jvp: int
    n_vjp: int
    converged: bool
    method: str = "krylov"
    key: str = ""
    info: dict = field(default_factory=dict)
    jacobian: JacobianOperator | None = field(default=None, repr=False, compare=False)

    @property
    def k(self) -> int:
        return int(self.s.shape[0])

    def pullback_metric(self, exact: bool = False) -> Operator:
        """The pullback metric G = JᵀJ on T_x as an Operator (n × n, symmetric).

        ``exact=True`` applies Jᵀ(J w) with fresh products (needs the basis fresh from
        :func:`local_basis`); the default is its rank-k part ``V diag(σ²) Vᵀ`` from the basis.
        """
        n = self.v[0].numel()
        V = self.v.reshape(self.k, n).T
        s2 = self.s**2
        if exact:
            if self.jacobian is None:
                raise ValueError("this basis was loaded from disk: only its rank-k metric is known (exact=False)")
            J = self.jacobian
            return Operator((n, n), lambda W: J.rmatmat(J.matmat(W)), lambda W: J.rmatmat(J.matmat(W)),
                            dtype=V.dtype, device=V.device)

        def metric(W):
            return V @ (s2[:, None] * (V.T @ W))

        return Operator((n, n), metric, metric, dtype=V.dtype, device=V.device)

    def project(self, direction: torch.Tensor):
        """Coefficients of an x-direction on the v's, and the share of its norm they hold."""
        d = direction.reshape(-1).to(self.v.dtype)
        V = self.v.reshape(self.k, -1)
        c = V @ d
        norm = torch.linalg.vector_norm(d)
        kept = torch.linalg.vector_norm(c) / torch.where(norm > 0, norm, torch.ones_like(norm))
        return c, float(kept)

    def save(self, path) -> Path:
        """Write to safetensors (tensors plus a JSON header of the numbers), atomically."""
        from safetensors.torch import save_file

        from ..plotting import _atomic

        meta = {
            "n_jvp": str(self.n_jvp),
            "n_vjp": str(self.n_vjp),
            "converged": json.dumps(bool(self.converged)),
            "method": self.method,
            "key": self.key,
            "info": json.dumps(self.info, default=str),
        }
        tensors = {k: t.detach().contiguous().cpu() for k, t in
                   (("u", self.u), ("s", self.s), ("v", self.v), ("residuals", self.residuals))}
        return _atomic(Path(path), lambda tmp: save_file(tensors, tmp, metadata=meta))

    @classmethod
    def load(cls, path, device=None) -> "LocalBasis":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt", device=str(device or "cpu")) as f:
                meta = f.metadata() or {}
                t = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as err:
            raise ValueError(f"cannot read a local basis from {path}: {err}") from None
        missing = {"u", "s", "v", "residuals"} - set(t)
        if missing:
            raise ValueError(f"{path} is not a local basis: it lacks {', '.join(sorted(missing))}")
        return cls(
            t["u"], t["s"], t["v"], t["residuals"], int(meta.get("n_jvp", 0)), int(meta.get("n_vjp", 0)),
            json.loads(meta.get("converged", "false")), meta.get("method", "krylov"), meta.get("key", ""),
            json.loads(meta.get("info", "{}")),
        )


def _hash_tensor(h, t: torch.Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(str((tuple(t.shape), str(t.dtype))).encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def cache_key(f, x: torch.Tensor, **params) -> str:
    """A hash of the model's weights (for a module or :class:`LayerMap`), x, and the map's arguments."""
    h = hashlib.sha256()
    model = f.model if isinstance(f, LayerMap) else f if isinstance(f, torch.nn.Module) else None
    if model is not None:
        for name, tensor in sorted(model.state_dict().items()):
            h.update(name.encode())
            _hash_tensor(h, tensor)
    else:
        h.update(getattr(f, "__qualname__", repr(f)).encode())
    if isinstance(f, LayerMap):
        h.update(f.layer.encode())
        for k, v in sorted(f.forward_kwargs.items()):
            h.update(k.encode())
            if isinstance(v, torch.Tensor):
                _hash_tensor(h, v)
            else:
                h.update(repr(v).encode())
    _hash_tensor(h, x)
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def local_basis(f, x: torch.Tensor, k: int = 10, method: str = "krylov", tol: float = 1e-4, *,
                seed: int = 0, cache_dir=None, **svd_options) -> LocalBasis:
    """The top-``k`` singular triplets of ``J = ∂f/∂x`` at ``x``, matrix-free.

    ``cache_dir``: reuse a basis saved there under its :func:`cache_key`, or save the new one.
    ``svd_options`` go to :func:`svdlens.svd` (``block_size``, ``max_dim``, ``max_iter``).
    Krylov runs with ``block_size=8`` unless told otherwise: a batched call of 8 JVPs costs far
    less than 8 calls (measured on 2 CPU cores: 2.8–3.7× faster overall despite ~2× the
    products; GPUs gain more).

    Examples
    --------
    >>> import torch, svdlens as sl
    >>> W = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> b = sl.local_basis(lambda x: W @ x, torch.ones(2), k=2, method="exact")
    >>> b.s.tolist()
    [3.0, 1.0]
    """
    if method == "krylov":
        svd_options.setdefault("block_size", DEFAULT_BLOCK)
    key = cache_key(f, x, k=k, method=method, tol=tol, seed=seed, **svd_options)
    if cache_dir is not None:
        path = Path(cache_dir) / f"basis-{key}.safetensors"
        if path.exists():
            return LocalBasis.load(path, device=x.device)
    J = jacobian(f, x)
    if k > min(J.shape):
        raise ValueError(
            f"k={k} is more than min(dim X, dim H) = min({J.shape[1]}, {J.shape[0]}) = {min(J.shape)}; ask for fewer"
        )
    res = svd(J, k, method=method, tol=tol, seed=seed, **svd_options)
    basis = LocalBasis(
        u=res.U.T.reshape((k,) + tuple(J.y.shape)),
        s=res.S,
        v=res.Vt.reshape((k,) + tuple(x.shape)),
        residuals=res.residuals,
        n_jvp=J.n_jvp,
        n_vjp=J.n_vjp,
        converged=res.converged,
        method=res.method,
        key=key,
        info={"jvp_mode": J.jvp_mode, "n_matvec": res.n_matvec, "iterations": res.iterations,
              "fallback": getattr(J, "fallback_reason", None)},
        jacobian=J,
    )
    if cache_dir is not None:
        basis.save(path)
    return basis

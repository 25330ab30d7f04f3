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
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._atomic import atomic_write
from ..exceptions import InputFileError, SvdlensError
from ..linalg import Operator, svd
from ._jacobian import JacobianOperator, jacobian
from ._layers import LayerMap

__all__ = ["LocalBasis", "local_basis", "cache_key"]

DEFAULT_BLOCK = 8  # vectors per batched JVP/VJP in local_basis (see its docstring)
DEFAULT_MAX_MEMORY = "4GB"  # working memory of local_basis's products, above the model (see its docstring)


@dataclass
class LocalBasis:
    """The top-k singular triplets of J = ∂f/∂x at x.

    Made by :func:`svdlens.local_basis` (and by ``FacePipeline.directions``); ``J vᵢ = σᵢ uᵢ``.

    Attributes
    ----------
    u : torch.Tensor
        ``(k, *f(x).shape)`` left singular vectors, what each move does in H.
    s : torch.Tensor
        ``(k,)`` singular values, descending.
    v : torch.Tensor
        ``(k, *x.shape)`` right singular vectors, the directions to move in at x.
    residuals : torch.Tensor
        ``(k,)`` ``max(‖Jv − σu‖, ‖Jᵀu − σv‖) / σ₁`` per triplet.
    n_jvp : int
        Vectors pushed forward through J (Jacobian-vector products).
    n_vjp : int
        Vectors pulled back through Jᵀ (vector-Jacobian products).
    converged : bool
        Every residual reached the tolerance.
    method : str
        The SVD method that ran.
    key : str
        The :func:`~svdlens.nets.cache_key` of (f, x, parameters).
    n_matvec : int
        Products of the SVD with J or Jᵀ.
    iterations : int
        Solver iterations of the SVD.
    jvp_mode : str
        How J·v was computed: ``"forward"`` (forward-mode AD) or ``"double_vjp"``.
    fallback_reason : str or None
        Why forward mode was given up, when it was.
    x : torch.Tensor or None
        The point the Jacobian was taken at (x_t for a diffusion map), or None.
    t : float or None
        For a diffusion map, how far into the diffusion x is; else None.
    steps : int or None
        For a diffusion map, the DDIM steps that made x; else None.
    prompt : str or None
        For a text-conditioned diffusion map, the prompt it was conditioned on; else None.
    layer : str or None
        For a diffusion map, the U-Net block whose output is h (``"mid_block"``); else None.
    jacobian : JacobianOperator or None
        The live Jacobian operator (not saved; None for a basis read from disk).

    Examples
    --------
    >>> import torch, svdlens as sl
    >>> W = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> b = sl.local_basis(lambda x: W @ x, torch.ones(2), k=1, method="exact")
    >>> b.k, b.s.tolist(), b.v.tolist(), b.u.tolist()
    (1, [3.0], [[1.0, 0.0]], [[1.0, 0.0, 0.0]])
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
    n_matvec: int = 0
    iterations: int = 0
    jvp_mode: str = ""
    fallback_reason: str | None = None
    x: torch.Tensor | None = field(default=None, repr=False, compare=False)
    t: float | None = None
    steps: int | None = None
    prompt: str | None = None
    layer: str | None = None
    jacobian: JacobianOperator | None = field(default=None, repr=False, compare=False)

    @property
    def k(self) -> int:
        """The number of triplets."""
        return int(self.s.shape[0])

    def _repr_html_(self) -> str:
        from .. import _html
        from ._figures import as_image

        r = self.residuals
        return _html.card(
            f"LocalBasis: the top {self.k} directions of J = ∂f/∂x",
            _html.facts(
                [
                    ("x shape", tuple(self.v.shape[1:])),
                    ("f(x) shape", tuple(self.u.shape[1:])),
                    ("method", self.method),
                    ("converged", self.converged),
                    ("max residual", f"{float(r.max()):.1e}" if r.numel() else None),
                    ("products (JVP, VJP)", f"{self.n_jvp}, {self.n_vjp}"),
                    ("JVP mode", self.jvp_mode or None),
                    ("fallback", self.fallback_reason),
                    ("t", self.t),
                    ("steps", self.steps),
                    ("prompt", self.prompt),
                    ("layer", self.layer),
                ]
            ),
            _html.spectrum_rows(self.s, r),
            _html.thumbnails([as_image(v) for v in self.v], [f"v{i + 1}" for i in range(self.k)], signed=True),
        )

    def plot(self, kind: str = "spectrum") -> Any:
        """Draw the basis: its spectrum with certified residuals, or its directions as images.

        Nothing is recomputed: the figure shows ``s``, ``residuals`` and ``v`` as they are.

        Parameters
        ----------
        kind : {"spectrum", "directions"}
            ``"spectrum"``: σᵢ as bars with each residual above; ``"directions"``: the top
            right singular vectors as images (red +, blue −), for an image-shaped x.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (made without pyplot).

        Examples
        --------
        >>> import torch, svdlens as sl
        >>> b = sl.local_basis(lambda x: 2 * x, torch.ones(3), k=2, method="exact")
        >>> type(b.plot()).__name__
        'Figure'
        """
        from .._validation import check_choice
        from ._figures import as_image, direction_images, spectrum_plot

        if check_choice("kind", kind, ("spectrum", "directions")) == "spectrum":
            return spectrum_plot(self)
        if self.k == 0 or as_image(self.v[0]) is None:
            raise SvdlensError(f"x of shape {tuple(self.v.shape[1:])} is not an image; use kind='spectrum'")
        return direction_images(self)

    def pullback_metric(self, exact: bool = False) -> Operator:
        """The pullback metric G = JᵀJ on T_x as an Operator (n × n, symmetric).

        Parameters
        ----------
        exact : bool
            True: apply Jᵀ(J w) with fresh products (needs the basis fresh from
            :func:`local_basis`). False (the default): its rank-k part ``V diag(σ²) Vᵀ`` from the basis.

        Returns
        -------
        Operator
            G on flattened x-directions, ``(n, n)`` with ``n = x.numel()``.

        Raises
        ------
        SvdlensError
            ``exact=True`` for a basis loaded from disk.

        Examples
        --------
        >>> import torch, svdlens as sl
        >>> W = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
        >>> b = sl.local_basis(lambda x: W @ x, torch.ones(2), k=1, method="exact")
        >>> b.pullback_metric().matmat(torch.eye(2)).tolist()
        [[9.0, 0.0], [0.0, 0.0]]
        >>> b.pullback_metric(exact=True).matmat(torch.eye(2)).tolist()
        [[9.0, 0.0], [0.0, 1.0]]
        """
        n = self.v[0].numel()
        V = self.v.reshape(self.k, n).T
        s2 = self.s**2
        if exact:
            if self.jacobian is None:
                raise SvdlensError("this basis was loaded from disk: only its rank-k metric is known (exact=False)")
            J = self.jacobian
            return Operator(
                (n, n),
                lambda W: J.rmatmat(J.matmat(W)),
                lambda W: J.rmatmat(J.matmat(W)),
                dtype=V.dtype,
                device=V.device,
            )

        def metric(W):
            return V @ (s2[:, None] * (V.T @ W))

        return Operator((n, n), metric, metric, dtype=V.dtype, device=V.device)

    def project(self, direction: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Coefficients of an x-direction on the v's, and the share of its norm they hold.

        Parameters
        ----------
        direction : torch.Tensor
            A direction at x, of x's shape (or any shape with as many entries).

        Returns
        -------
        torch.Tensor
            ``(k,)`` its coefficients ``vᵢ · direction``.
        float
            ``‖coefficients‖ / ‖direction‖``: 1 when the direction lies in the span of the v's.

        Examples
        --------
        >>> import torch, svdlens as sl
        >>> W = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
        >>> b = sl.local_basis(lambda x: W @ x, torch.ones(2), k=1, method="exact")
        >>> c, kept = b.project(torch.tensor([1.0, 1.0]))
        >>> c.tolist(), round(kept, 4)
        ([1.0], 0.7071)
        """
        d = direction.reshape(-1).to(self.v.dtype)
        V = self.v.reshape(self.k, -1)
        c = V @ d
        norm = torch.linalg.vector_norm(d)
        kept = torch.linalg.vector_norm(c) / torch.where(norm > 0, norm, torch.ones_like(norm))
        return c, float(kept)

    def save(self, path: str | Path) -> Path:
        """Write to safetensors (tensors plus a JSON header of the numbers), atomically.

        Parameters
        ----------
        path : str or pathlib.Path
            The file to write (whole or not at all); ``jacobian`` is not saved.

        Returns
        -------
        pathlib.Path
            The path written.

        Examples
        --------
        >>> import os, tempfile, torch, svdlens as sl
        >>> b = sl.local_basis(lambda x: 2 * x, torch.ones(3), k=1, method="exact")
        >>> path = b.save(os.path.join(tempfile.mkdtemp(), "basis.safetensors"))
        >>> sl.LocalBasis.load(path).s.tolist()
        [2.0]
        """
        from safetensors.torch import save_file

        numbers = {
            "n_jvp": self.n_jvp,
            "n_vjp": self.n_vjp,
            "converged": bool(self.converged),
            "method": self.method,
            "key": self.key,
            "n_matvec": self.n_matvec,
            "iterations": self.iterations,
            "jvp_mode": self.jvp_mode,
            "fallback_reason": self.fallback_reason,
            "t": self.t,
            "steps": self.steps,
            "prompt": self.prompt,
            "layer": self.layer,
        }
        tensors = {"u": self.u, "s": self.s, "v": self.v, "residuals": self.residuals}
        if self.x is not None:
            tensors["x"] = self.x
        tensors = {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
        meta = {"svdlens": json.dumps(numbers)}
        return atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=meta))

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> LocalBasis:
        """Read a basis written by :meth:`save` (its ``jacobian`` is None).

        Parameters
        ----------
        path : str or pathlib.Path
            A safetensors file written by :meth:`save`.
        device : torch.device or str, optional
            Where to put the tensors (default: CPU).

        Returns
        -------
        LocalBasis
            The basis, without its live Jacobian.

        Raises
        ------
        InputFileError
            Not a readable safetensors file, or one that lacks a basis's tensors.
        """
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt", device=str(device or "cpu")) as f:
                meta = f.metadata() or {}
                t = {name: f.get_tensor(name) for name in f.keys()}
            numbers = json.loads(meta.get("svdlens", "{}"))
        except Exception as err:
            raise InputFileError(f"cannot read a local basis from {path}: {err}") from None
        missing = {"u", "s", "v", "residuals"} - set(t)
        if missing or not isinstance(numbers, dict):
            raise InputFileError(f"{path} is not a local basis: it lacks {', '.join(sorted(missing)) or 'its numbers'}")
        known = {f.name for f in fields(cls)} - {"u", "s", "v", "residuals", "x", "jacobian"}
        return cls(
            u=t["u"],
            s=t["s"],
            v=t["v"],
            residuals=t["residuals"],
            x=t.get("x"),
            **{name: value for name, value in numbers.items() if name in known},
        )


def _hash_tensor(h, t: torch.Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(str((tuple(t.shape), str(t.dtype))).encode())
    h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")


def _start_digest(start: torch.Tensor | np.ndarray) -> str:
    """A hash of a warm start's numbers, for the cache key."""
    h = hashlib.sha256()
    _hash_tensor(h, start if isinstance(start, torch.Tensor) else torch.as_tensor(np.asarray(start)))
    return h.hexdigest()[:32]


def cache_key(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, **params: Any) -> str:
    """A hash of the model's weights (for a module or :class:`LayerMap`), x, and the map's arguments.

    Parameters
    ----------
    f : callable
        The map: a ``torch.nn.Module`` or :class:`LayerMap` (their weights are hashed), or
        another callable (its qualified name is hashed).
        For a LayerMap, its layer and forward arguments are hashed too.
    x : torch.Tensor
        The point.
    **params
        Further arguments that change the result (k, method, tol, ...), hashed as JSON.

    Returns
    -------
    str
        32 hex digits.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(2, 3)
    >>> key = cache_key(net, torch.ones(2), k=2)
    >>> len(key), key == cache_key(net, torch.ones(2), k=3)
    (32, False)
    """
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


def local_basis(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    k: int = 10,
    method: str = "krylov",
    tol: float = 1e-4,
    *,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    max_memory: int | float | str | None = DEFAULT_MAX_MEMORY,
    jvp_mode: str = "auto",
    start: torch.Tensor | np.ndarray | None = None,
    **svd_options: int,
) -> LocalBasis:
    """The top-``k`` singular triplets of ``J = ∂f/∂x`` at ``x``, matrix-free.

    Parameters
    ----------
    f : callable
        A torch function of one tensor (a model, :func:`svdlens.layer_map`, a lambda).
    x : torch.Tensor
        The point.
    k : int
        How many triplets, the largest first.
    method : str
        The :func:`svdlens.svd` method; "krylov" (the default) certifies its residuals.
    tol : float
        Stop when every residual ``max(‖Jv − σu‖, ‖Jᵀu − σv‖)/σ₁`` is at most ``tol``.
    seed : int
        Seed of the random start.
    cache_dir : path, optional
        Reuse a basis saved there under its :func:`~svdlens.nets.cache_key`, or save the new one.
    max_memory : int, float, str or None
        Budget for the working memory of the Jacobian's products, above what the model and
        x already take: bytes, or a size such as ``"4GB"`` or ``"512MiB"``. The default,
        ``DEFAULT_MAX_MEMORY`` = "4GB", leaves room on a 16 GB laptop for the Stable Diffusion
        UNet's 3.4 GB of float32 weights and the rest of the system. The first forward pass
        measures the activations reverse mode keeps (``graph_bytes``); a batched product of b
        vectors holds at most ``(2.5 + 0.5·b)·graph_bytes`` (measured at scale, with a margin;
        see ``svdlens.nets._jacobian.block_for_memory``), so products go in batches of the
        largest b that fits (at least 1), one batch's activations at a time, each freed before
        the next. ``None``: no budget, one batched call per block.
    jvp_mode : {"auto", "forward", "double_vjp"}
        How ``J v`` is computed (see :func:`svdlens.jacobian`).
    start : torch.Tensor or numpy.ndarray, optional
        A warm start: ``(k', *x.shape)`` directions at x, such as the ``v`` of a basis at a
        nearby point (see the ``start`` of :func:`svdlens.svd`). They take the first ``k'``
        columns of the first Krylov block, the rest stays random; the block grows to ``k' + 1``
        when it is smaller. The stopping rule and the residuals are those of a cold start. A
        hash of the start is part of the cache key: a basis cached from another start (or
        from none) is not returned for this one.
    **svd_options
        Passed to :func:`svdlens.svd` (``block_size``, ``max_dim``, ``max_iter``).

    Notes
    -----
    Krylov runs with ``block_size = DEFAULT_BLOCK`` (8) unless told otherwise, or with the
    budget's batch when that is smaller: a batched call of 8 JVPs costs far less than 8 calls
    (measured on 2 CPU cores: 2.8–3.7× faster overall despite ~2× the products; GPUs gain
    more), but once a budget splits blocks into single calls, a smaller block needs fewer
    products for the same residual.

    Returns
    -------
    LocalBasis
        ``u (k, *f(x).shape)``, ``s (k,)`` descending, ``v (k, *x.shape)``, residuals, product counts
        and whether the residuals reached ``tol``; ``x`` and the live ``jacobian`` are kept.

    Raises
    ------
    SvdlensError
        ``k`` above min(dim X, dim H), or an unknown ``jvp_mode`` or bad ``max_memory``.

    Examples
    --------
    >>> import torch, svdlens as sl
    >>> W = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> b = sl.local_basis(lambda x: W @ x, torch.ones(2), k=2, method="exact")
    >>> b.s.tolist()
    [3.0, 1.0]
    """
    from .._validation import check_choice
    from ._jacobian import JVP_MODES, block_for_memory, parse_memory

    check_choice("jvp_mode", jvp_mode, JVP_MODES)
    budget = None if max_memory is None else parse_memory("max_memory", max_memory)
    user_block = svd_options.get("block_size")
    if start is not None and not isinstance(start, torch.Tensor):
        start = np.asarray(start)
    n_start = 0 if start is None else (int(start.shape[0]) if start.ndim > 1 else 1)
    if method == "krylov":
        svd_options.setdefault("block_size", max(DEFAULT_BLOCK, n_start + 1))
    keyed: dict[str, Any] = dict(svd_options)
    if start is not None:  # only then, so that cold-start keys stay as they were
        keyed["start"] = _start_digest(start)
    key = cache_key(f, x, k=k, method=method, tol=tol, seed=seed, **keyed)
    if cache_dir is not None:
        path = Path(cache_dir) / f"basis-{key}.safetensors"
        if path.exists():
            return LocalBasis.load(path, device=x.device)
    J = jacobian(f, x, jvp_mode=jvp_mode)
    if k > min(J.shape):
        raise SvdlensError(
            f"k={k} is more than min(dim X, dim H) = min({J.shape[1]}, {J.shape[0]}) = {min(J.shape)}; ask for fewer"
        )
    if budget is not None:
        J.max_block = block_for_memory(J.graph_bytes, budget)
        if method == "krylov" and user_block is None:
            svd_options["block_size"] = max(min(DEFAULT_BLOCK, J.max_block), n_start + 1)
    res = svd(J, k, method=method, tol=tol, seed=seed, start=start, **svd_options)
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
        n_matvec=res.n_matvec,
        iterations=res.iterations,
        jvp_mode=J.jvp_mode,
        fallback_reason=J.fallback_reason,
        x=x.detach(),
        jacobian=J,
    )
    if cache_dir is not None:
        basis.save(path)
    return basis

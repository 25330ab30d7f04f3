"""``jacobian(f, x)``: the Jacobian of a torch function at a point, as a matrix-free Operator.

``matmat`` is a batched Jacobian-vector product (forward mode) and ``rmatmat`` a batched
vector-Jacobian product (reverse mode); the matrix itself is never formed. Each block of
vectors goes through one batched call.

Forward mode (``torch.func.jvp`` under ``vmap``) is tried first. Where an operation has no
forward-mode derivative — flash-attention SDPA on CPU, or GroupNorm's forward AD in diffusers'
UNet, which raises a stride error — the operator falls back, once and for good, to the
double-VJP trick: ``g(w) = Jᵀw`` is linear in ``w``, so ``J v = ∂⟨g(w), v⟩/∂w``, one more
reverse pass (Townsend 2017, "A new trick for calculating Jacobian vector products").
Everything runs under ``SDPBackend.MATH`` attention, the one SDPA kernel with a double backward.
"""

from __future__ import annotations

import contextlib
import traceback

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..linalg import Operator

__all__ = ["jacobian", "JacobianOperator", "ModelError", "frozen"]


class ModelError(RuntimeError):
    """The model raised inside its forward pass; the message says what and where."""


@contextlib.contextmanager
def frozen(f):
    """Eval mode and no parameter gradients for the modules behind ``f``, restored afterwards."""
    modules = [m for m in (f, getattr(f, "model", None)) if isinstance(m, torch.nn.Module)]
    saved = [(m, m.training, [(p, p.requires_grad) for p in m.parameters()]) for m in modules]
    try:
        for m in modules:
            m.eval()
            m.requires_grad_(False)
        yield
    finally:
        for m, training, params in saved:
            m.train(training)
            for p, flag in params:
                p.requires_grad_(flag)


def _where(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    user = [fr for fr in frames if "/torch/" not in fr.filename and "svdlens/nets" not in fr.filename]
    fr = (user or frames)[-1]
    return f"{fr.filename}:{fr.lineno} in {fr.name}"


class JacobianOperator(Operator):
    """J = ∂f/∂x at ``x`` as an Operator of shape ``(f(x).numel(), x.numel())``.

    Attributes: ``x``, ``y`` (= f(x), detached), ``n_jvp``, ``n_vjp`` (vectors pushed through
    each mode), ``jvp_mode`` ("forward" or "double_vjp"; "auto" until the first product).
    """

    def __init__(self, f, x: torch.Tensor, *, jvp_mode: str = "auto"):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch tensor; got {type(x).__name__}")
        if not x.is_floating_point():
            raise ValueError(
                f"f is not differentiable with respect to an x of dtype {x.dtype}; pass a float tensor, "
                "e.g. x.float()"
            )
        if jvp_mode not in ("auto", "forward", "double_vjp"):
            raise ValueError(f"jvp_mode must be 'auto', 'forward' or 'double_vjp'; got {jvp_mode!r}")
        self.f = f
        self.x = x.detach()
        self.jvp_mode = jvp_mode
        self.n_jvp = 0
        self.n_vjp = 0
        self.y = self._first_forward()
        super().__init__(
            (self.y.numel(), self.x.numel()), self._jvp_block, self._vjp_block, dtype=x.dtype, device=x.device
        )

    # ------------------------------------------------------------------ forward
    def call(self, x):
        """f(x) under MATH attention, with the model's errors made readable."""
        with sdpa_kernel(SDPBackend.MATH):
            try:
                return self.f(x)
            except ModelError:
                raise
            except Exception as err:
                raise ModelError(
                    f"the model raised {type(err).__name__}: {err} (at {_where(err)})"
                ) from err

    def _first_forward(self) -> torch.Tensor:
        with frozen(self.f):
            x = self.x.clone().requires_grad_(True)
            with torch.enable_grad():
                y = self.call(x)
            if not isinstance(y, torch.Tensor):
                raise TypeError(f"f must return a tensor; got {type(y).__name__}")
            if not y.is_floating_point():
                raise ValueError(f"f returned a {y.dtype} tensor; a Jacobian needs floating-point outputs")
            if not y.requires_grad:
                raise ValueError(
                    "f's output does not depend on x through autograd (a detached output, .item(), or "
                    "numpy inside f?): f is not differentiable with respect to x"
                )
            if not bool(torch.isfinite(y).all()):
                raise ValueError("f(x) contains NaN or Inf; check the model and the input")
        return y.detach()

    # ----------------------------------------------------------------- products
    def _tangents(self, V: torch.Tensor) -> torch.Tensor:
        return V.T.reshape((V.shape[1],) + tuple(self.x.shape))

    def _jvp_block(self, V: torch.Tensor) -> torch.Tensor:
        T = self._tangents(V)
        with frozen(self.f):
            if self.jvp_mode in ("auto", "forward"):
                try:
                    out = self._jvp_forward(T)
                    self.jvp_mode = "forward"
                except (NotImplementedError, RuntimeError) as err:
                    if self.jvp_mode == "forward":
                        raise
                    self.jvp_mode = "double_vjp"  # no forward AD somewhere inside f: use the trick from now on
                    self.fallback_reason = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
                    out = self._jvp_double_vjp(T)
            else:
                out = self._jvp_double_vjp(T)
        self.n_jvp += V.shape[1]
        return out.reshape(V.shape[1], -1).T

    def _jvp_forward(self, T: torch.Tensor) -> torch.Tensor:
        # The raw f: the plain forward already ran, so what fails here is forward AD, not the model.
        x = self.x

        def one(t):
            return torch.func.jvp(self._raw, (x,), (t,))[1]

        return torch.func.vmap(one)(T)

    def _raw(self, z):
        with sdpa_kernel(SDPBackend.MATH):
            return self.f(z)

    def _jvp_double_vjp(self, T: torch.Tensor) -> torch.Tensor:
        """J v as the VJP of w ↦ Jᵀw (linear in w), batched over v with vmap."""
        _, vjp_fn = torch.func.vjp(self._raw, self.x)

        def transpose_product(w):
            return vjp_fn(w)[0]

        _, vjp_of_vjp = torch.func.vjp(transpose_product, torch.zeros_like(self.y))
        return torch.func.vmap(vjp_of_vjp)(T)[0]

    def _vjp_block(self, U: torch.Tensor) -> torch.Tensor:
        C = U.T.reshape((U.shape[1],) + tuple(self.y.shape))
        with frozen(self.f):
            _, vjp_fn = torch.func.vjp(self._raw, self.x)
            g = torch.func.vmap(vjp_fn)(C)[0]
        self.n_vjp += U.shape[1]
        return g.reshape(U.shape[1], -1).T


def jacobian(f, x: torch.Tensor, *, jvp_mode: str = "auto") -> JacobianOperator:
    """The Jacobian ``J = ∂f/∂x`` at ``x`` as an :class:`svdlens.Operator` (never written down).

    Parameters
    ----------
    f : callable
        A torch function of one tensor (a model, :func:`svdlens.layer_map`, a lambda).
    x : torch.Tensor
        The point; any shape. The operator acts on ``x.numel()``-vectors and returns
        ``f(x).numel()``-vectors; reshape with ``x.shape`` and ``op.y.shape``.
    jvp_mode : {"auto", "forward", "double_vjp"}
        How ``J @ V`` is computed; "auto" tries forward mode and falls back to the double-VJP trick.

    Raises
    ------
    ValueError
        Integer ``x``, an output that does not depend on ``x``, NaN in ``f(x)``.
    ModelError
        The model raised inside its forward pass (the message says what and where).

    Examples
    --------
    >>> import torch, svdlens as sl
    >>> W = torch.tensor([[2.0, 1.0], [1.0, 3.0]])
    >>> J = sl.jacobian(lambda x: torch.tanh(W @ x), torch.zeros(2))
    >>> J.matmat(torch.eye(2))
    tensor([[2., 1.],
            [1., 3.]])
    """
    return JacobianOperator(f, x, jvp_mode=jvp_mode)

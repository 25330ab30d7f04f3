"""``jacobian(f, x)``: the Jacobian of a torch function at a point, as a matrix-free Operator.

``matmat`` is a batched Jacobian-vector product (forward mode) and ``rmatmat`` a batched
vector-Jacobian product (reverse mode); the matrix itself is never formed. A block of vectors
goes through one batched call, or through calls of at most ``max_block`` vectors when the
operator is told to bound its memory (see :func:`svdlens.local_basis`'s ``max_memory``).

Forward mode (``torch.func.jvp`` under ``vmap``) runs with the forward-AD-friendly group norm
and chunked attention of :mod:`svdlens.nets._forward_ad` swapped in for the products: with
them, diffusers' ``UNet2DModel`` and ``UNet2DConditionModel`` take forward AD. Where some other
operation has no forward-mode derivative, the operator falls back, once and for good, to the
double-VJP trick: ``g(w) = Jᵀw`` is linear in ``w``, so ``J v = ∂⟨g(w), v⟩/∂w``, one more
reverse pass (Townsend 2017, "A new trick for calculating Jacobian vector products"), and
says why in ``fallback_reason``. Attention calls that the chunked rule does not take (masked,
causal) run under ``SDPBackend.MATH``, the one SDPA kernel with forward AD and a double
backward. Reverse mode (``rmatmat``) runs the model as it is, torch's fused attention kernels
included: their backward keeps no attention map and costs a third of a hand-written one.
"""

from __future__ import annotations

import contextlib
import math
import traceback
import warnings
from collections.abc import Callable

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from .._validation import check_choice, check_float, check_optional_int
from ..exceptions import InvalidParameterError, ModelError, SvdlensError
from ..linalg import Operator
from ._forward_ad import ATTENTION_CHUNK_ELEMENTS, friendly_products

__all__ = ["jacobian", "JacobianOperator", "ModelError", "frozen", "JVP_MODES", "parse_memory", "block_for_memory"]

JVP_MODES = ("auto", "forward", "double_vjp")


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


def _reason(err: BaseException) -> str:
    lines = str(err).splitlines() or [""]
    return f"{type(err).__name__}: {lines[0][:200]}"


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class _SavedBytes:
    """saved_tensors_hooks that add up the distinct storages autograd keeps for backward.

    Only tensors that depend on x (``requires_grad``) count: the frozen weights are resident
    anyway. The sum is the activation memory of one forward pass, as reverse mode holds it.
    """

    def __init__(self) -> None:
        self.bytes = 0
        self._seen: set[int] = set()

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        if t.requires_grad:
            try:
                storage = t.untyped_storage()
                key, size = storage.data_ptr(), storage.nbytes()
            except (RuntimeError, NotImplementedError):  # tensors without storage (subclasses)
                key, size = id(t), _nbytes(t)
            if key not in self._seen:
                self._seen.add(key)
                self.bytes += size
        return t

    @staticmethod
    def unpack(t: torch.Tensor) -> torch.Tensor:
        return t


class JacobianOperator(Operator):
    """J = ∂f/∂x at ``x`` as an Operator of shape ``(f(x).numel(), x.numel())``.

    Parameters
    ----------
    f : callable
        A torch function of one tensor.
    x : torch.Tensor
        The point.
    jvp_mode : {"auto", "forward", "double_vjp"}
        How ``J @ V`` is computed (see :func:`~svdlens.jacobian`).
    max_block : int, optional
        The most vectors pushed through one batched call; wider blocks are split. None: no cap.

    Attributes
    ----------
    x, y : torch.Tensor
        The point and ``f(x)`` (detached).
    n_jvp, n_vjp : int
        Vectors pushed through each mode.
    n_calls : int
        Batched calls made (each is one forward pass of ``f``, with its transpose where reverse).
    jvp_mode : str
        "forward" or "double_vjp"; "auto" until the first product.
    fallback_reason : str or None
        Why forward mode was given up, when it was.
    max_block : int or None
        As above; may be changed between products.
    graph_bytes : int
        Activation memory of one forward pass as reverse mode keeps it (measured on the first
        forward): the unit ``block_for_memory`` sizes blocks in.
    """

    def __init__(self, f: Callable, x: torch.Tensor, *, jvp_mode: str = "auto", max_block: int | None = None) -> None:
        if not isinstance(x, torch.Tensor):
            raise InvalidParameterError(f"x must be a torch tensor; got {type(x).__name__}")
        if not x.is_floating_point():
            raise SvdlensError(
                f"f is not differentiable with respect to an x of dtype {x.dtype}; pass a float tensor, e.g. x.float()"
            )
        check_choice("jvp_mode", jvp_mode, JVP_MODES)
        self.f = f
        self.x = x.detach()
        self.jvp_mode = jvp_mode
        self.max_block = check_optional_int("max_block", max_block)
        self.fallback_reason: str | None = None
        self.chunk_elements = ATTENTION_CHUNK_ELEMENTS
        self.n_jvp = 0
        self.n_vjp = 0
        self.n_calls = 0
        self.y = self._first_forward()
        super().__init__(
            (self.y.numel(), self.x.numel()), self._jvp_block, self._vjp_block, dtype=x.dtype, device=x.device
        )

    # ------------------------------------------------------------------ forward
    def call(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) as reverse mode runs it (the model as it is), with the model's errors made readable.

        Parameters
        ----------
        x : torch.Tensor
            A point of x's shape.

        Returns
        -------
        torch.Tensor
            f(x).

        Raises
        ------
        ModelError
            The model raised inside its forward pass (the message says what and where).
        """
        try:
            return self.f(x)
        except ModelError:
            raise
        except Exception as err:
            raise ModelError(f"the model raised {type(err).__name__}: {err} (at {_where(err)})") from err

    def _first_forward(self) -> torch.Tensor:
        with frozen(self.f):
            x = self.x.clone().requires_grad_(True)
            counter = _SavedBytes()
            with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(counter.pack, counter.unpack):
                y = self.call(x)
            self.graph_bytes = max(counter.bytes, _nbytes(x))
            if not isinstance(y, torch.Tensor):
                raise InvalidParameterError(f"f must return a tensor; got {type(y).__name__}")
            if not y.is_floating_point():
                raise SvdlensError(f"f returned a {y.dtype} tensor; a Jacobian needs floating-point outputs")
            if not y.requires_grad:
                raise SvdlensError(
                    "f's output does not depend on x through autograd (a detached output, .item(), or "
                    "numpy inside f?): f is not differentiable with respect to x"
                )
            if not bool(torch.isfinite(y).all()):
                raise SvdlensError("f(x) contains NaN or Inf; check the model and the input")
        return y.detach()

    def _forward_ad_f(self, z: torch.Tensor) -> torch.Tensor:
        """f for forward AD: friendly group norm and chunked attention, MATH for the rest."""
        with sdpa_kernel(SDPBackend.MATH), friendly_products(chunk_elements=self.chunk_elements):
            return self.f(z)

    def _double_vjp_f(self, z: torch.Tensor) -> torch.Tensor:
        """f for the double-VJP trick: a backward that is itself differentiable, so chunked
        attention (no L×S map kept) and MATH for the rest; the model's own group norm."""
        with sdpa_kernel(SDPBackend.MATH), friendly_products(group_norm=False, chunk_elements=self.chunk_elements):
            return self.f(z)

    # ----------------------------------------------------------------- products
    def _chunks(self, n: int) -> list[slice]:
        step = self.max_block or n
        return [slice(i, min(i + step, n)) for i in range(0, n, step)]

    def _jvp_block(self, V: torch.Tensor) -> torch.Tensor:
        T = V.T.reshape((V.shape[1],) + tuple(self.x.shape))
        with frozen(self.f):
            if self.jvp_mode in ("auto", "forward"):
                try:
                    out = self._jvp_forward(T)
                    self.jvp_mode = "forward"
                except (NotImplementedError, RuntimeError) as err:
                    if self.jvp_mode == "forward":
                        raise
                    self.jvp_mode = "double_vjp"  # no forward AD somewhere inside f: the trick from now on
                    self.fallback_reason = _reason(err)
                    out = self._jvp_double_vjp(T)
            else:
                out = self._jvp_double_vjp(T)
        self.n_jvp += V.shape[1]
        return out.reshape(V.shape[1], -1).T

    def _jvp_forward(self, T: torch.Tensor) -> torch.Tensor:
        x = self.x

        def one(t):
            return torch.func.jvp(self._forward_ad_f, (x,), (t,))[1]

        out = torch.empty((T.shape[0],) + tuple(self.y.shape), dtype=self.y.dtype, device=self.y.device)
        for sl in self._chunks(T.shape[0]):
            out[sl] = torch.func.vmap(one)(T[sl])
            self.n_calls += 1
        return out

    def _jvp_double_vjp(self, T: torch.Tensor) -> torch.Tensor:
        """J v as the VJP of w ↦ Jᵀw (linear in w), batched over v with vmap."""
        vjp_fn = torch.func.vjp(self._double_vjp_f, self.x)[1]

        def transpose_product(w):
            return vjp_fn(w)[0]

        vjp_of_vjp = torch.func.vjp(transpose_product, torch.zeros_like(self.y))[1]
        out = torch.empty((T.shape[0],) + tuple(self.y.shape), dtype=self.y.dtype, device=self.y.device)
        for sl in self._chunks(T.shape[0]):
            out[sl] = torch.func.vmap(vjp_of_vjp)(T[sl])[0]
            self.n_calls += 1
        return out

    def _vjp_block(self, U: torch.Tensor) -> torch.Tensor:
        C = U.T.reshape((U.shape[1],) + tuple(self.y.shape))
        out = torch.empty((U.shape[1],) + tuple(self.x.shape), dtype=self.x.dtype, device=self.x.device)
        with frozen(self.f), warnings.catch_warnings():
            # vmap runs the fused attention backward once per vector (it has no batching rule)
            # and says so; that loop is still faster than any batched hand-written backward.
            warnings.filterwarnings("ignore", message=".*not yet implemented the batching rule.*")
            vjp_fn = torch.func.vjp(self.call, self.x)[1]  # one graph, shared by the chunks
            for sl in self._chunks(U.shape[1]):
                out[sl] = torch.func.vmap(vjp_fn)(C[sl])[0]
                self.n_calls += 1
            del vjp_fn
        self.n_vjp += U.shape[1]
        return out.reshape(U.shape[1], -1).T


def jacobian(f: Callable, x: torch.Tensor, *, jvp_mode: str = "auto", max_block: int | None = None) -> JacobianOperator:
    """The Jacobian ``J = ∂f/∂x`` at ``x`` as an :class:`svdlens.Operator` (never written down).

    Parameters
    ----------
    f : callable
        A torch function of one tensor (a model, :func:`svdlens.layer_map`, a lambda).
    x : torch.Tensor
        The point; any shape. The operator acts on ``x.numel()``-vectors and returns
        ``f(x).numel()``-vectors; reshape with ``x.shape`` and ``op.y.shape``.
    jvp_mode : {"auto", "forward", "double_vjp"}
        How ``J @ V`` is computed. "auto" uses forward-mode AD (with a forward-AD-friendly group
        norm and chunked attention swapped in, so diffusers' UNets take it) and falls back to
        the double-VJP trick, recording ``fallback_reason``, where forward AD fails.
    max_block : int, optional
        The most vectors per batched call; wider blocks are split (bounds memory).

    Returns
    -------
    JacobianOperator
        J as an :class:`svdlens.Operator` of shape ``(f(x).numel(), x.numel())``; ``op.y`` is f(x),
        and ``n_jvp``, ``n_vjp``, ``jvp_mode`` and ``fallback_reason`` say how its products ran.

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
    return JacobianOperator(f, x, jvp_mode=jvp_mode, max_block=max_block)


# --------------------------------------------------------------------------- memory budget
_UNITS = {
    "": 1,
    "B": 1,
    "K": 10**3,
    "KB": 10**3,
    "M": 10**6,
    "MB": 10**6,
    "G": 10**9,
    "GB": 10**9,
    "T": 10**12,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def parse_memory(name: str, value: int | float | str) -> int:
    """A memory size in bytes: a number of bytes, or a string such as ``"8GB"``, ``"512 MiB"``.

    Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB, TiB) of 1024.

    >>> parse_memory("max_memory", "1.5GB")
    1500000000
    >>> parse_memory("max_memory", 4096)
    4096
    """
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        number = text.rstrip("KMGTBkmgtiI")
        unit = text[len(number) :].upper()
        try:
            amount = float(number)
        except ValueError:
            amount = float("nan")
        if unit not in _UNITS or not math.isfinite(amount) or amount <= 0:
            raise InvalidParameterError(
                f"{name} must be a number of bytes or a size such as '4GB' or '512MiB'; got {value!r}"
            )
        return int(amount * _UNITS[unit])
    return int(check_float(name, value, low=1.0))


#: Working memory of a batched product of b vectors, in units of ``graph_bytes``: at most
#: ``FIXED_GRAPHS + b · GRAPHS_PER_VECTOR``. Measured on the google/ddpm-celebahq-256 and
#: Stable Diffusion 1.5 UNets (bench/scale.py, peak RSS above the weights): a block costs
#: 1.7–2.4 graphs plus 0.2–0.3 per vector, on either AD path; these constants keep a margin.
FIXED_GRAPHS = 2.5
GRAPHS_PER_VECTOR = 0.5


def block_for_memory(graph_bytes: int, max_memory: int) -> int:
    """The most vectors per batched product that keep its working memory under ``max_memory``.

    The unit is ``graph_bytes``, the activations one forward pass keeps for reverse mode
    (:attr:`JacobianOperator.graph_bytes`). A batched VJP of b vectors holds that graph once
    and, per cotangent, the gradients live at one time; a batched JVP holds the primal's live
    activations and a tangent of each per vector. Both are bounded by
    ``(FIXED_GRAPHS + b · GRAPHS_PER_VECTOR) · graph_bytes`` (constants measured at scale, with
    a margin), so b is the largest whole number within ``max_memory``, and at least 1.

    >>> block_for_memory(100, 1000)
    15
    >>> block_for_memory(100, 50)
    1
    """
    room = max_memory / max(1, graph_bytes) - FIXED_GRAPHS
    return max(1, int(room // GRAPHS_PER_VECTOR))

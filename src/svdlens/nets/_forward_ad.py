"""Forward-mode AD through diffusers' UNets: a group norm and an attention that forward AD can take.

Two operations stop ``torch.func.jvp`` (forward-mode automatic differentiation) on the UNets
people study, and :func:`friendly_products` goes around both, only while the Jacobian's
products run, without changing what the model computes:

**Group norm on channels-last tensors.** diffusers' attention blocks hand their output back as
``hidden_states.transpose(-1, -2).reshape(batch, channel, height, width)``, a tensor with
channels-last strides ``(C·H·W, 1, W·C, C)``; the residual sum keeps that layout, and the next
``GroupNorm`` receives it. The forward-AD formula of ``native_group_norm`` (``group_norm_jvp``
in PyTorch's ``FunctionsManual.cpp``) reshapes input and tangent to ``(1, N·groups, -1)`` with
``view``, which cannot merge C with H·W when C is the innermost dimension:
"view size is not compatible with input tensor's size and stride". The plain forward and the
backward take such tensors; only forward AD fails. :class:`GroupNorm` keeps the native kernel
for the values (so they are the model's own, to the bit) and brings its own JVP rule, which
takes group means as sums over the spatial dimensions and then over each group's channels:
no ``view``, any layout, and a few passes per tangent where the native rule makes many.

**Scaled-dot-product attention.** The default CPU kernel (flash attention) has no forward
AD, and the math kernel, which has, writes down the whole ``L × S`` attention map for the
primal and once more per tangent: at Stable Diffusion's 64×64 latent (L = S = 4096, 8 heads)
that is 512 MB a map, times the tangents in a block. :class:`ChunkedAttention` is an
:class:`torch.autograd.Function` whose forward is torch's fused kernel (the model's values, no
map) and whose JVP and VJP rules run over chunks of queries, so that at most one chunk of the
map (per tangent) exists at a time; only q, k, v and the output are kept. The JVP takes all the
tangents of a ``vmap`` in one call (:func:`_attention_jvp`). With ``S = scale·Q Kᵀ``, ``P = softmax(S)`` row-wise and
``O = P V``:

- JVP (differentiate each factor): ``dS = scale·(dQ Kᵀ + Q dKᵀ)``,
  ``dP = P ∘ (dS − rowsum(P ∘ dS))`` (the softmax Jacobian ``diag(p) − p pᵀ`` applied to each
  row), ``dO = dP V + P dV``. Since ``rowsum(P ∘ dS) · (P V)`` is that row sum times O, we use
  ``dO = (P ∘ dS) V − rowsum(P ∘ dS) ∘ O + P dV``.
- VJP (the transpose of the above, as in FlashAttention's backward, Dao et al. 2022):
  ``dV = Pᵀ dO``, ``dP = dO Vᵀ``, ``dS = P ∘ (dP − rowsum(dO ∘ O))``, ``dQ = scale·dS K``,
  ``dK = scale·dSᵀ Q``.

The VJP rule uses only torch operations, so ``generate_vmap_rule = True`` lets ``torch.func.vmap``
batch it over cotangents, and it is differentiable (the double-VJP path); the JVP rule hands its
tangents to :class:`_AttentionTangent`, whose own ``vmap`` rule sees the whole batch (Extending
torch.func with autograd.Function, PyTorch docs). Plain reverse mode does not need either rule:
:func:`svdlens.jacobian` runs it through the fused kernel's own backward.

Routing: :func:`friendly_products` pushes a :class:`torch.overrides.TorchFunctionMode` that
answers calls of ``torch.nn.functional.group_norm`` and
``torch.nn.functional.scaled_dot_product_attention`` (how ``nn.GroupNorm`` and diffusers'
``AttnProcessor2_0`` reach them) and passes every other call through unchanged. The mode lives
on this thread's mode stack and is popped on exit: nothing is monkey-patched, and other
threads and code outside the ``with`` block see plain torch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch._C import _functorch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.overrides import TorchFunctionMode

__all__ = [
    "ChunkedAttention",
    "GroupNorm",
    "attention",
    "group_norm",
    "friendly_products",
    "FriendlyProducts",
    "ATTENTION_CHUNK_ELEMENTS",
]

#: Elements of the attention map held at once per tangent (2²² float32 = 16 MB): the query
#: chunk is ``ATTENTION_CHUNK_ELEMENTS // (batch · heads · keys)`` rows, at least one.
ATTENTION_CHUNK_ELEMENTS = 1 << 22

_GROUP_NORM = F.group_norm
_SDPA = F.scaled_dot_product_attention
_ALL_BACKENDS = [b for name, b in SDPBackend.__members__.items() if name != "ERROR"]  # as torch 2.4+ has them


# --------------------------------------------------------------------------- group norm
def _group_norm_args(input, num_groups, weight=None, bias=None, eps=1e-5):
    return input, num_groups, weight, bias, eps


def _per_channel(t: torch.Tensor, groups: int) -> torch.Tensor:
    """Group means of ``t (N, C, *)`` broadcast back to ``(N, C, 1, ...)``, for any strides.

    Sums over the spatial dimensions first (no copy, whatever the memory format), then over the
    channels of each group.
    """
    n, c = t.shape[:2]
    spatial = tuple(range(2, t.dim()))
    per_channel = t.sum(dim=spatial) if spatial else t
    per_group = per_channel.reshape(n, groups, c // groups).sum(-1) / (t[0].numel() // groups)
    return per_group.repeat_interleave(c // groups, dim=1).reshape((n, c) + (1,) * len(spatial))


def _normalised(x: torch.Tensor, groups: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``x̂ = (x − μ)·r`` and ``r = 1/√(var + eps)`` per group, broadcast to channels."""
    mean = _per_channel(x, groups)
    centred = x - mean
    var = _per_channel(centred * centred, groups)
    rstd = torch.rsqrt(var + eps)
    return centred * rstd, rstd


class GroupNorm(torch.autograd.Function):
    """``F.group_norm`` with a layout-agnostic JVP rule (and VJP rule) of a few passes per tangent.

    Forward: the native kernel on ``x`` as it comes, channels-last included, so the values are
    the model's own to the bit. With ``x̂ = (x − μ)·r``, ``r = (var + eps)^(−1/2)`` over each
    group of ``M`` elements, ``y = w·x̂ + b``:

    - JVP: ``dμ = mean(dx)``, ``dvar = 2·mean((x − μ)·dx)``, ``dr = −r³·dvar/2``, hence
      ``dx̂ = r·(dx − mean(dx) − x̂·mean(x̂·dx))`` and ``dy = w·dx̂ + dw·x̂ + db``;
    - VJP: the map ``dx ↦ dx̂`` is symmetric (``r·(I − 11ᵀ/M − x̂x̂ᵀ/M)``), so with ``g = w·dy``:
      ``dx = r·(g − mean(g) − x̂·mean(x̂·g))``, ``dw = Σ dy·x̂``, ``db = Σ dy``.

    The group means are taken as sums over the spatial dimensions, then over the group's
    channels, which needs no ``view`` of a channels-last tensor (where PyTorch's own rule fails).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, groups: int, weight, bias, eps: float) -> torch.Tensor:
        return _GROUP_NORM(x, groups, weight, bias, eps)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, groups, weight, bias, eps = inputs
        ctx.save_for_forward(x, weight)
        ctx.save_for_backward(x, weight)
        ctx.groups, ctx.eps = groups, eps

    @staticmethod
    def jvp(ctx, dx, _dgroups, dweight, dbias, _deps) -> torch.Tensor:
        x, weight = ctx.saved_tensors
        xhat, rstd = _normalised(x, ctx.groups, ctx.eps)
        shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
        out = None
        if dx is not None:
            scale = rstd if weight is None else rstd * weight.reshape(shape)
            a = _per_channel(dx, ctx.groups)
            c = _per_channel(xhat * dx, ctx.groups)
            out = torch.addcmul(-(scale * a), scale, dx)  # s·dx − s·mean(dx), one pass
            out = torch.addcmul(out, scale * c, xhat, value=-1)  # − s·mean(x̂·dx)·x̂
        if dweight is not None:
            term = dweight.reshape(shape) * xhat
            out = term if out is None else out + term
        if dbias is not None:
            term = dbias.reshape(shape).expand_as(x)
            out = term if out is None else out + term
        return out if out is not None else torch.zeros_like(x)

    @staticmethod
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        xhat, rstd = _normalised(x, ctx.groups, ctx.eps)
        shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
        reduce = (0,) + tuple(range(2, x.dim()))
        dx = dweight = dbias = None
        if ctx.needs_input_grad[0]:
            g = dy if weight is None else dy * weight.reshape(shape)
            dx = rstd * (g - _per_channel(g, ctx.groups) - xhat * _per_channel(xhat * g, ctx.groups))
        if ctx.needs_input_grad[2]:
            dweight = (dy * xhat).sum(dim=reduce)
        if ctx.needs_input_grad[3]:
            dbias = dy.sum(dim=reduce)
        return dx, None, dweight, dbias, None


def group_norm(
    input: torch.Tensor,
    num_groups: int,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """``torch.nn.functional.group_norm`` through :class:`GroupNorm`, whose forward AD takes any layout.

    Parameters
    ----------
    input : torch.Tensor
        ``(N, C, *)``, any strides (channels-last included).
    num_groups : int
        Groups the C channels are split into.
    weight, bias : torch.Tensor, optional
        Per-channel affine parameters ``(C,)``.
    eps : float
        Added to the variance.

    Returns
    -------
    torch.Tensor
        The values of ``F.group_norm(input, ...)`` (the same kernel runs the forward).
    """
    return GroupNorm.apply(input, num_groups, weight, bias, float(eps))


# --------------------------------------------------------------------------- attention
def _query_chunk(q: torch.Tensor, n_keys: int, elements: int) -> int:
    rows = max(1, math.prod(q.shape[:-2]) * n_keys)
    return max(1, min(q.shape[-2], elements // rows))


def _probabilities(qs: torch.Tensor, kt: torch.Tensor) -> torch.Tensor:
    """Row-wise softmax of ``qs @ kt`` (``qs`` already scaled), one chunk of the attention map."""
    return torch.softmax(torch.matmul(qs, kt), dim=-1)


class ChunkedAttention(torch.autograd.Function):
    """softmax(scale·Q Kᵀ) V, with forward, JVP and VJP rules that never hold the whole map.

    ``ChunkedAttention.apply(q, k, v, scale, chunk)`` with ``q (..., L, E)``, ``k (..., S, E)``,
    ``v (..., S, Ev)``; ``chunk`` queries at a time. The rules are derived in the module
    docstring: JVP ``dO = (P∘dS) V − rowsum(P∘dS)∘O + P dV`` with ``dS = scale·(dQ Kᵀ + Q dKᵀ)``;
    VJP ``dV = Pᵀ dO``, ``dS = P∘(dO Vᵀ − rowsum(dO∘O))``, ``dQ = scale·dS K``,
    ``dK = scale·dSᵀ Q``. The backward is made of differentiable torch operations, so a
    double backward (the double-VJP trick) goes through it too.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, chunk: int) -> torch.Tensor:
        # The values: torch's own fused kernel (flash attention on CPU), whatever backend the
        # caller restricted SDPA to for the rest of the model; it keeps no map either.
        with sdpa_kernel(_ALL_BACKENDS):
            return _SDPA(q, k, v, scale=scale)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        q, k, v, scale, chunk = inputs
        ctx.save_for_backward(q, k, v, output)
        ctx.save_for_forward(q, k, v, output)
        ctx.scale, ctx.chunk = scale, chunk

    @staticmethod
    def jvp(ctx, dq, dk, dv, _dscale, _dchunk) -> torch.Tensor:
        q, k, v, out = ctx.saved_tensors
        if dq is None and dk is None and dv is None:
            return torch.zeros_like(out)
        return _AttentionTangent.apply(q, k, v, out, dq, dk, dv, ctx.scale, ctx.chunk)

    @staticmethod
    def backward(ctx, d_out):
        q, k, v, out = ctx.saved_tensors
        scale, chunk = ctx.scale, ctx.chunk
        need_q, need_k, need_v = ctx.needs_input_grad[:3]
        kt = k.transpose(-2, -1)
        vt = v.transpose(-2, -1)
        dq_parts = []
        dk = dv = None
        for i in range(0, q.shape[-2], chunk):
            sl = slice(i, i + chunk)
            qs = q[..., sl, :] * scale
            p = _probabilities(qs, kt)
            do = d_out[..., sl, :]
            if need_v:
                term = torch.matmul(p.transpose(-2, -1), do)
                dv = term if dv is None else dv + term
            if need_q or need_k:
                ds = p * (torch.matmul(do, vt) - (do * out[..., sl, :]).sum(-1, keepdim=True))
                if need_q:
                    dq_parts.append(torch.matmul(ds, k) * scale)
                if need_k:
                    term = torch.matmul(ds.transpose(-2, -1), qs)
                    dk = term if dk is None else dk + term
                del ds
            del p
        dq = torch.cat(dq_parts, dim=-2) if need_q else None
        return dq, dk, dv, None, None


def _heads_first(t: torch.Tensor, lead: tuple[int, ...], n: int) -> torch.Tensor:
    """``(B, *t_lead, R, C)`` broadcast to ``(B, *lead, R, C)`` and laid out as ``(n_heads, B, R, C)``."""
    b = t.shape[0]
    t = t.expand((b,) + lead + tuple(t.shape[-2:])).reshape((b, n) + tuple(t.shape[-2:]))
    return t.transpose(0, 1)


def _bmm(a: torch.Tensor, b: torch.Tensor, buf: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    """``a @ b`` (batched), written into the front of ``buf`` when one is given."""
    if buf is None:
        return torch.bmm(a, b)
    return torch.bmm(a, b, out=buf[: math.prod(shape)].view(shape))


def _attention_jvp(q, k, v, out, dq, dk, dv, scale: float, chunk: int) -> torch.Tensor:
    """Tangents of attention for B tangents at once: ``dq, dk, dv`` are ``(B, ...)`` or None.

    ``dO = (P∘dS) V − rowsum(P∘dS)∘O + P dV`` with ``dS = scale·(dQ Kᵀ + Q dKᵀ)``, over chunks of
    queries. The B tangents are laid out head-first, so that every product with a factor they
    share (P, V, Q) is one batched matrix product over the heads with B folded into its rows or
    columns, and nothing of the map's size is ever copied. ``dQ Kᵀ + Q dKᵀ`` is one product
    ``[dQ, Q]·[K, dK]ᵀ``; ``rowsum`` rides along as a column of ones next to V; the chunk of the
    map for all B tangents is written into one buffer, reused from chunk to chunk (fresh pages
    of that size cost more than the arithmetic on them).
    """
    lead = tuple(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
    n = math.prod(lead)
    L, E = q.shape[-2:]
    S, Ev = v.shape[-2:]
    b = next(t.shape[0] for t in (dq, dk, dv) if t is not None)

    def heads(t: torch.Tensor) -> torch.Tensor:  # (*t_lead, R, C) -> (n, R, C)
        return t.expand(lead + tuple(t.shape[-2:])).reshape((n,) + tuple(t.shape[-2:]))

    qs, kf, vf, of = heads(q) * scale, heads(k), heads(v), heads(out)
    kt = kf.transpose(-2, -1)
    score_terms = dq is not None or dk is not None
    if score_terms:
        dqs = _heads_first(dq, lead, n) * scale if dq is not None else qs.new_zeros(n, b, L, E)
        dkf = _heads_first(dk, lead, n) if dk is not None else kf.new_zeros(n, b, S, E)
        lhs = torch.cat([dqs, qs[:, None].expand(n, b, L, E)], dim=-1)  # (n, b, L, 2E)
        rhs_t = torch.cat([kf[:, None].expand(n, b, S, E), dkf], dim=-1).transpose(-2, -1).reshape(n * b, 2 * E, S)
        v1 = torch.cat([vf, vf.new_ones(n, S, 1)], dim=-1)  # (n, S, Ev + 1)
    if dv is not None:
        dv_cols = _heads_first(dv, lead, n).permute(0, 2, 1, 3).reshape(n, S, b * Ev)
    # Buffers reused from chunk to chunk: a fresh mapping of a map chunk's size costs more in
    # page faults than the arithmetic on it. Under a further transform (a BatchedTensor from an
    # outer vmap) out= has no batching rule, so each chunk then gets fresh tensors.
    reuse = not any(_functorch.is_batchedtensor(t) for t in (q, k, v, out, dq, dk, dv) if t is not None)
    rows = min(chunk, L)
    p_buf = q.new_empty(n * rows * S) if reuse else None
    w_buf = q.new_empty(n * b * rows * S) if reuse and score_terms else None
    result = out.new_empty(n, b, L, Ev) if reuse else None
    parts: list[torch.Tensor] = []
    for i in range(0, L, rows):
        sl = slice(i, i + rows)
        c = min(rows, L - i)
        p = _bmm(qs[:, sl], kt, p_buf, (n, c, S))
        p = torch.softmax(p, dim=-1)
        d_out = None
        if score_terms:
            w = _bmm(lhs[:, :, sl].reshape(n * b, c, 2 * E), rhs_t, w_buf, (n * b, c, S))
            w = w.view(n, b, c, S).mul_(p[:, None])  # P ∘ dS
            wv = torch.bmm(w.view(n, b * c, S), v1).view(n, b, c, Ev + 1)
            d_out = torch.addcmul(wv[..., :Ev], wv[..., Ev:], of[:, None, sl], value=-1)
            del w, wv
        if dv is not None:
            term = torch.bmm(p, dv_cols).view(n, c, b, Ev).transpose(1, 2)
            d_out = term if d_out is None else d_out + term
        assert d_out is not None  # at least one tangent is given
        if result is not None:
            result[:, :, sl] = d_out
        else:
            parts.append(d_out)
    if result is None:
        result = torch.cat(parts, dim=2)
    return result.transpose(0, 1).reshape((b,) + lead + (L, Ev))


class _AttentionTangent(torch.autograd.Function):
    """The tangent map of attention as a function, so that ``vmap`` hands it all tangents at once.

    Called from :meth:`ChunkedAttention.jvp`. Under ``torch.func.vmap`` its ``vmap`` rule gets
    the batch of tangents with its batch dimension and runs :func:`_attention_jvp` on it once,
    instead of letting vmap batch each operation (which copies the map once per tangent).
    Not differentiable itself: products of products go through the double-VJP path.
    """

    @staticmethod
    def forward(q, k, v, out, dq, dk, dv, scale: float, chunk: int) -> torch.Tensor:
        dq1, dk1, dv1 = (None if t is None else t.unsqueeze(0) for t in (dq, dk, dv))
        return _attention_jvp(q, k, v, out, dq1, dk1, dv1, scale, chunk)[0]

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @staticmethod
    def vmap(info, in_dims, q, k, v, out, dq, dk, dv, scale, chunk):
        if any(d is not None for d in in_dims[:4]):  # batched primals: one call per batch entry
            rows = []
            for i in range(info.batch_size):
                args = [
                    t if d is None or t is None else t.select(d, i) for t, d in zip((q, k, v, out, dq, dk, dv), in_dims)
                ]
                rows.append(_AttentionTangent.apply(*args, scale, chunk))
            return torch.stack(rows), 0

        def batch_first(t, d):
            if t is None:
                return None
            return t.movedim(d, 0) if d is not None else t.expand((info.batch_size,) + tuple(t.shape))

        dq, dk, dv = (batch_first(t, d) for t, d in zip((dq, dk, dv), in_dims[4:7]))
        return _attention_jvp(q, k, v, out, dq, dk, dv, scale, chunk), 0


def _sdpa_args(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    return query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa


def attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    scale: float | None = None,
    chunk_elements: int = ATTENTION_CHUNK_ELEMENTS,
) -> torch.Tensor:
    """Scaled-dot-product attention through :class:`ChunkedAttention` (no mask, no dropout).

    Parameters
    ----------
    query, key, value : torch.Tensor
        ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)``; leading dimensions broadcast as in
        ``torch.matmul``.
    scale : float, optional
        Defaults to ``1/√E``, as in ``F.scaled_dot_product_attention``.
    chunk_elements : int
        Elements of the attention map held at once (per tangent under ``vmap``).

    Returns
    -------
    torch.Tensor
        ``(..., L, Ev)``.
    """
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    chunk = _query_chunk(query, key.shape[-2], chunk_elements)
    return ChunkedAttention.apply(query, key, value, float(scale), chunk)


# --------------------------------------------------------------------------- routing
class FriendlyProducts(TorchFunctionMode):
    """Answers ``F.group_norm`` and ``F.scaled_dot_product_attention`` calls; passes all others.

    Parameters
    ----------
    group_norm : bool
        Route group norms through :func:`group_norm` (needed by forward AD only).
    attention : bool
        Route unmasked, dropout-free attention through :func:`attention`; masked or causal
        calls go to the original function.
    chunk_elements : int
        Attention-map elements per chunk, per tangent.

    Attributes
    ----------
    n_group_norm, n_attention : int
        Calls routed so far (what the tests check).
    """

    def __init__(self, group_norm: bool = True, attention: bool = True, chunk_elements: int = ATTENTION_CHUNK_ELEMENTS):
        super().__init__()
        self.group_norm = group_norm
        self.attention = attention
        self.chunk_elements = chunk_elements
        self.n_group_norm = 0
        self.n_attention = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is _GROUP_NORM and self.group_norm:
            self.n_group_norm += 1
            return group_norm(*_group_norm_args(*args, **kwargs))
        if func is _SDPA and self.attention:
            q, k, v, mask, dropout_p, is_causal, scale, gqa = _sdpa_args(*args, **kwargs)
            if mask is None and not dropout_p and not is_causal and not gqa:
                self.n_attention += 1
                return attention(q, k, v, scale, self.chunk_elements)
        return func(*args, **kwargs)


@contextlib.contextmanager
def friendly_products(
    group_norm: bool = True, attention: bool = True, chunk_elements: int = ATTENTION_CHUNK_ELEMENTS
) -> Iterator[FriendlyProducts]:
    """Within the block, group norms and attention take the forward-AD-friendly routes.

    Enter it *inside* the function that ``torch.func.jvp``/``vjp`` transform, around the
    model's call. On exit the mode is popped: plain torch again.

    Examples
    --------
    >>> import torch
    >>> gn = torch.nn.GroupNorm(2, 4)
    >>> x = torch.randn(1, 4, 3, 3).to(memory_format=torch.channels_last)
    >>> def f(z):
    ...     with friendly_products():
    ...         return gn(z)
    >>> out, tangent = torch.func.jvp(f, (x,), (torch.ones_like(x),))
    >>> tangent.shape
    torch.Size([1, 4, 3, 3])
    """
    mode = FriendlyProducts(group_norm=group_norm, attention=attention, chunk_elements=chunk_elements)
    with mode:
        yield mode

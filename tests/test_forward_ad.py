"""Forward-mode AD through diffusers' UNets: the group norm, the chunked attention, the routing,
the products against the double-VJP path and full Jacobians, and the memory budget."""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import svdlens as sl
from svdlens.exceptions import InvalidParameterError
from svdlens.nets._forward_ad import attention, friendly_products, group_norm
from svdlens.nets._jacobian import block_for_memory, parse_memory

D = torch.float64


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread, so that no time goes to threads waiting on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def randn(*shape, seed=0):
    return torch.randn(*shape, dtype=D, generator=gen(seed))


def full_jacobian(f, x):
    """The whole Jacobian by reverse mode (torch.autograd.functional), independent of svdlens."""
    with sdpa_kernel(SDPBackend.MATH):
        J = torch.autograd.functional.jacobian(lambda z: f(z).reshape(-1), x)
    return J.reshape(-1, x.numel())


def tiny_unet(channels_last=False):
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    model = (
        UNet2DModel(
            sample_size=4,
            in_channels=3,
            out_channels=3,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            norm_num_groups=8,
            attention_head_dim=8,
        )
        .to(D)
        .eval()
    )
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def tiny_condition_unet():
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return (
        UNet2DConditionModel(
            sample_size=4,
            in_channels=4,
            out_channels=4,
            cross_attention_dim=16,
            block_out_channels=(32, 64),
            layers_per_block=1,
            attention_head_dim=8,
            norm_num_groups=32,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        )
        .to(D)
        .eval()
    )


def batched_jvp(f, primals, tangents):
    return torch.func.vmap(lambda *t: torch.func.jvp(f, primals, t)[1])(*tangents)


# ----------------------------------------------------------------------------- group norm
def test_group_norm_trap_and_the_way_around():
    gn = torch.nn.GroupNorm(4, 8).to(D)
    torch.nn.init.normal_(gn.weight, generator=gen(1))
    torch.nn.init.normal_(gn.bias, generator=gen(2))
    x = randn(2, 8, 5, 3).to(memory_format=torch.channels_last)
    t = randn(2, 8, 5, 3, seed=3)
    # The trap: PyTorch's forward-AD rule for group norm `view`s a channels-last tensor.
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        torch.func.jvp(gn, (x,), (t,))
    # The forward is the native kernel's, to the bit, on any layout.
    for layout in (x, x.contiguous()):
        assert torch.equal(group_norm(layout, 4, gn.weight, gn.bias, gn.eps), gn(layout))
    # Its JVP equals the native rule's on a contiguous copy, and the reshape formula's.
    _, ours = torch.func.jvp(lambda z: group_norm(z, 4, gn.weight, gn.bias, gn.eps), (x,), (t,))
    _, native = torch.func.jvp(gn, (x.contiguous(),), (t,))
    torch.testing.assert_close(ours, native, rtol=1e-12, atol=1e-12)

    def by_reshape(z):
        zr = z.reshape(2, 4, -1)
        var, mean = torch.var_mean(zr, dim=-1, keepdim=True, correction=0)
        y = ((zr - mean) / torch.sqrt(var + gn.eps)).reshape(z.shape)
        return y * gn.weight.reshape(1, -1, 1, 1) + gn.bias.reshape(1, -1, 1, 1)

    torch.testing.assert_close(ours, torch.func.jvp(by_reshape, (x,), (t,))[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(2, 6, 3, 2), (1, 6, 5), (3, 6)])
def test_group_norm_derivatives_gradcheck(shape):
    x = randn(*shape).requires_grad_(True)
    w, b = randn(6, seed=1).requires_grad_(True), randn(6, seed=2).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: group_norm(x, 3, w, b, 1e-5),
        (x, w, b),
        check_forward_ad=True,
        check_batched_grad=True,
        check_batched_forward_grad=True,
    )
    assert torch.autograd.gradcheck(lambda x: group_norm(x, 2), (x,), check_forward_ad=True)


# ----------------------------------------------------------------------------- attention
@pytest.mark.parametrize("cross", [False, True])
def test_chunked_attention_equals_sdpa(cross):
    q = randn(2, 3, 10, 4, seed=1)
    k = randn(2, 3, 7 if cross else 10, 4, seed=2)
    v = randn(2, 3, 7 if cross else 10, 5, seed=3)
    ref = F.scaled_dot_product_attention
    # 2·3·S elements per query row: chunks of 3 queries, so 4 chunks of 10 rows.
    ours = lambda q, k, v: attention(q, k, v, chunk_elements=2 * 3 * k.shape[-2] * 3)  # noqa: E731
    with sdpa_kernel(SDPBackend.MATH):
        torch.testing.assert_close(ours(q, k, v), ref(q, k, v), rtol=1e-12, atol=1e-12)
        # JVP, batched over 4 tangents, through every input and through q alone (k, v constant).
        T = [randn(4, *a.shape, seed=10 + i) for i, a in enumerate((q, k, v))]
        torch.testing.assert_close(batched_jvp(ours, (q, k, v), T), batched_jvp(ref, (q, k, v), T))

        def only_q(f):
            return lambda z: f(z, k, v)

        torch.testing.assert_close(batched_jvp(only_q(ours), (q,), T[:1]), batched_jvp(only_q(ref), (q,), T[:1]))
        # VJP, batched over 3 cotangents.
        C = randn(3, 2, 3, 10, 5, seed=20)
        got = torch.func.vmap(torch.func.vjp(ours, q, k, v)[1])(C)
        want = torch.func.vmap(torch.func.vjp(ref, q, k, v)[1])(C)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)

        # Double VJP (what the fallback path does): the backward is differentiable.
        def double_vjp(f):
            _, vjp_fn = torch.func.vjp(f, q, k, v)
            _, vv = torch.func.vjp(lambda w: vjp_fn(w)[0], torch.zeros(2, 3, 10, 5, dtype=D))
            return vv(T[0][0])[0]

        torch.testing.assert_close(double_vjp(ours), double_vjp(ref))


def test_chunked_attention_gradcheck():
    q, k, v = (randn(1, 2, 4, 2, seed=s).requires_grad_(True) for s in (1, 2, 3))
    assert torch.autograd.gradcheck(
        lambda q, k, v: attention(q, k, v, chunk_elements=16),
        (q, k, v),
        check_forward_ad=True,
        check_batched_grad=True,
        # gradcheck batches forward grads with the legacy vmap, whose tensors cannot be told from
        # plain ones and have no out= rules; torch.func.vmap over tangents is tested above and below.
        check_batched_forward_grad=False,
    )


def test_attention_jvp_under_nested_vmap_and_partial_tangents():
    """Primals batched by an outer vmap (one call per entry, no reused buffers), and tangents
    through k alone or v alone, agree with the math kernel's own forward AD."""
    ref = F.scaled_dot_product_attention
    ours = lambda q, k, v: attention(q, k, v, chunk_elements=2 * 4 * 3)  # noqa: E731
    Q, K, V = (randn(2, 1, 2, 5, 3, seed=s) for s in (1, 2, 3))
    T = [randn(3, 1, 2, 5, 3, seed=10 + i) for i in range(3)]

    def per_image(f):
        def one(q, k, v):
            return torch.func.vmap(lambda a, b, c: torch.func.jvp(f, (q, k, v), (a, b, c))[1])(*T)

        return torch.func.vmap(one)(Q, K, V)

    def through(f, i):
        primals = [Q[0], K[0], V[0]]

        def g(z):
            return f(*[z if j == i else a for j, a in enumerate(primals)])

        return torch.func.vmap(lambda t: torch.func.jvp(g, (primals[i],), (t,))[1])(T[i])

    with sdpa_kernel(SDPBackend.MATH):
        torch.testing.assert_close(per_image(ours), per_image(ref))
        for i in (1, 2):  # k alone, then v alone
            torch.testing.assert_close(through(ours, i), through(ref, i))


# ----------------------------------------------------------------------------- routing
def test_routing_is_confined_to_the_context():
    model = tiny_unet()
    x = randn(1, 3, 4, 4)
    before = model(x, 10).sample
    with friendly_products() as mode:
        inside = model(x, 10).sample
    assert mode.n_group_norm > 0 and mode.n_attention > 0
    torch.testing.assert_close(inside, before, rtol=1e-10, atol=1e-10)
    # Gone afterwards: no mode on the stack, the functions are torch's own, the numbers unchanged.
    assert torch._C._len_torch_function_stack() == 0
    assert F.group_norm.__module__ == "torch.nn.functional"
    assert torch.equal(model(x, 10).sample, before)
    # Masked attention is left to torch.
    q = randn(1, 1, 4, 2)
    mask = torch.ones(4, 4, dtype=torch.bool).tril()
    with friendly_products() as mode:
        out = F.scaled_dot_product_attention(q, q, q, attn_mask=mask)
    assert mode.n_attention == 0
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, q, q, attn_mask=mask))


# ----------------------------------------------------------------------------- products on real UNets
@pytest.mark.parametrize("channels_last", [False, True])
def test_unet2d_forward_mode_equals_double_vjp_and_full_jacobian(channels_last):
    model = tiny_unet(channels_last)
    x = randn(1, 3, 4, 4)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    g = sl.layer_map(model, "mid_block", timestep=10)
    J = sl.jacobian(g, x)
    Jd = sl.jacobian(g, x, jvp_mode="double_vjp")
    Jfull = full_jacobian(g, x)
    V, U = randn(x.numel(), 3, seed=5), randn(Jfull.shape[0], 2, seed=6)
    JV = J.matmat(V)
    assert J.jvp_mode == "forward" and J.fallback_reason is None
    torch.testing.assert_close(JV, Jfull @ V, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(Jd.matmat(V), JV, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(J.rmatmat(U), Jfull.T @ U, rtol=1e-9, atol=1e-10)
    assert torch.equal(g(x), g(x))  # the model is untouched


def test_unet2d_condition_model_with_text():
    unet = tiny_condition_unet()
    x = randn(1, 4, 4, 4)
    text = randn(1, 5, 16, seed=7)
    g = sl.layer_map(unet, "mid_block", timestep=500, encoder_hidden_states=text)
    J = sl.jacobian(g, x)
    Jfull = full_jacobian(g, x)
    V, U = randn(x.numel(), 2, seed=8), randn(Jfull.shape[0], 2, seed=9)
    torch.testing.assert_close(J.matmat(V), Jfull @ V, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(J.rmatmat(U), Jfull.T @ U, rtol=1e-9, atol=1e-10)
    assert J.jvp_mode == "forward"
    b = sl.local_basis(g, x, k=3, tol=1e-7)
    torch.testing.assert_close(b.s, torch.linalg.svdvals(Jfull)[:3], rtol=1e-8, atol=0)
    assert b.jvp_mode == "forward" and b.fallback_reason is None


class NoForwardAD(torch.autograd.Function):
    """tanh with a backward and no JVP rule: forward AD through it fails."""

    @staticmethod
    def forward(x):
        return torch.tanh(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


def test_other_forward_ad_failures_still_fall_back():
    W = randn(4, 6)
    f = lambda z: NoForwardAD.apply(W @ z)  # noqa: E731
    x = randn(6, seed=1)
    J = sl.jacobian(f, x)
    V = randn(6, 2, seed=2)
    want = (1 - torch.tanh(W @ x) ** 2)[:, None] * (W @ V)
    torch.testing.assert_close(J.matmat(V), want)
    assert J.jvp_mode == "double_vjp" and J.fallback_reason
    with pytest.raises((RuntimeError, NotImplementedError)):
        sl.jacobian(f, x, jvp_mode="forward").matmat(V)


# ----------------------------------------------------------------------------- memory budget
def test_parse_memory_and_block_for_memory():
    assert parse_memory("max_memory", "8GB") == 8 * 10**9
    assert parse_memory("max_memory", "512 MiB") == 512 * 2**20
    assert parse_memory("max_memory", 1e9) == 10**9
    for bad in ("lots", "-1GB", "8XB", 0, True):
        with pytest.raises(InvalidParameterError, match="max_memory"):
            parse_memory("max_memory", bad)
    assert block_for_memory(10**9, 4 * 10**9) == 3  # (2.5 + 0.5·3) graphs
    assert block_for_memory(10**9, 10**8) == 1


def test_products_in_chunks_equal_one_call():
    model = tiny_unet()
    x = randn(1, 3, 4, 4)
    g = sl.layer_map(model, "mid_block", timestep=10)
    whole, chunked = sl.jacobian(g, x), sl.jacobian(g, x, max_block=2)
    V, U = randn(x.numel(), 5, seed=1), randn(whole.shape[0], 5, seed=2)
    torch.testing.assert_close(chunked.matmat(V), whole.matmat(V), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(chunked.rmatmat(U), whole.rmatmat(U), rtol=1e-12, atol=1e-12)
    assert (whole.n_calls, chunked.n_calls) == (2, 6)


def test_small_budget_gives_smaller_blocks_and_the_same_sigma():
    model = tiny_unet()
    x = randn(1, 3, 4, 4)
    g = sl.layer_map(model, "mid_block", timestep=10)
    free = sl.local_basis(g, x, k=3, tol=1e-7, max_memory=None)
    graph = free.jacobian.graph_bytes
    assert graph > x.numel() * 8  # the activations of one forward, measured
    tight = sl.local_basis(g, x, k=3, tol=1e-7, max_memory=3.5 * graph)
    assert free.jacobian.max_block is None and tight.jacobian.max_block == 2
    assert tight.jacobian.n_calls > free.jacobian.n_calls
    torch.testing.assert_close(tight.s, free.s, rtol=1e-7, atol=0)
    assert tight.converged and free.converged
    # Default budget: far above these activations, so whole blocks of DEFAULT_BLOCK.
    default = sl.local_basis(g, x, k=3, tol=1e-7)
    assert default.jacobian.max_block > 8
    with pytest.raises(InvalidParameterError, match="max_memory"):
        sl.local_basis(g, x, k=3, max_memory="plenty")

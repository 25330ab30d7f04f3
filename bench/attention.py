"""Benchmark: the attention products behind forward-mode Jacobians of diffusers' UNets (issue 15).

At the self-attention shapes of the SD-1.5 UNet's first two levels (latent 64×64: 4096 tokens,
8 heads of 40; 32×32: 1024 tokens, 8 heads of 80), float32, CPU, a block of 8 tangents under
``torch.func.vmap`` as ``svdlens.jacobian`` runs them:

* forward: torch's fused kernel (the default, flash attention on CPU) and the math kernel;
* JVP per tangent: svdlens' ``ChunkedAttention`` rule, against torch's own forward AD through
  the math kernel (the only SDPA kernel with forward AD; it writes the whole map per tangent, so
  at 4096 tokens it runs one tangent at a time to stay within memory);
* VJP per cotangent: the fused kernel's backward (what ``J.rmatmat`` uses; ``vmap`` loops over
  it), svdlens' hand-written backward (what the double-VJP path uses), and the math kernel's.

Each JVP is also checked against torch's math-kernel JVP (largest difference relative to the
largest entry). ``--quick``: 256 tokens.

    python bench/attention.py            # bench/results/attention.{md,json}
"""

from __future__ import annotations

import argparse
import math
import warnings

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from _common import best_time, markdown_table, write_results
from svdlens.nets._forward_ad import attention

BLOCK = 8


def jvp_per_tangent(f, q, k, v, T, repeat):
    def run():
        return torch.func.vmap(lambda a, b, c: torch.func.jvp(f, (q, k, v), (a, b, c))[1])(*T)

    out, best = best_time(run, repeat)
    return best / T[0].shape[0], out


def vjp_per_cotangent(f, q, k, v, C, repeat):
    def run():
        return torch.func.vmap(torch.func.vjp(f, q, k, v)[1])(C)

    return best_time(run, repeat)[1] / C.shape[0]


def measure(tokens: int, heads: int, dim: int, repeat: int) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, heads, tokens, dim, generator=g) for _ in range(3))
    T = [torch.randn(BLOCK, 1, heads, tokens, dim, generator=g) for _ in range(3)]
    C = torch.randn(BLOCK, 1, heads, tokens, dim, generator=g)
    fused = best_time(lambda: F.scaled_dot_product_attention(q, k, v), repeat)[1]
    with sdpa_kernel(SDPBackend.MATH):
        math_fwd = best_time(lambda: F.scaled_dot_product_attention(q, k, v), repeat)[1]
    shape = f"{tokens} tokens, {heads}×{dim}"
    rows = [
        {"shape": shape, "product": "forward", "implementation": "fused kernel (torch default)", "s": fused},
        {"shape": shape, "product": "forward", "implementation": "math kernel", "s": math_fwd},
    ]
    ours, got = jvp_per_tangent(attention, q, k, v, T, repeat)
    # torch's math kernel writes the map per tangent: one tangent at a time where 8 would not fit.
    per = BLOCK if tokens <= 1024 else 1
    with sdpa_kernel(SDPBackend.MATH):
        theirs, want = jvp_per_tangent(F.scaled_dot_product_attention, q, k, v, [t[:per] for t in T], repeat)
    err = float((got[:per] - want).abs().max() / want.abs().max())
    rows += [
        {
            "shape": shape,
            "product": "JVP per tangent",
            "implementation": f"svdlens ChunkedAttention (block {BLOCK})",
            "s": ours,
            "vs fused forward": ours / fused,
            "rel. difference from math": err,
        },
        {
            "shape": shape,
            "product": "JVP per tangent",
            "implementation": f"torch forward AD, math kernel (block {per})",
            "s": theirs,
            "vs fused forward": theirs / fused,
        },
    ]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not yet implemented the batching rule.*")
        fused_vjp = vjp_per_cotangent(F.scaled_dot_product_attention, q, k, v, C, repeat)
    ours_vjp = vjp_per_cotangent(attention, q, k, v, C, repeat)
    with sdpa_kernel(SDPBackend.MATH):
        math_vjp = vjp_per_cotangent(F.scaled_dot_product_attention, q, k, v, C[:per], repeat)
    for name, s in (
        ("fused kernel's backward, looped by vmap (J.rmatmat)", fused_vjp),
        ("svdlens ChunkedAttention backward (double-VJP path)", ours_vjp),
        (f"math kernel (block {per})", math_vjp),
    ):
        rows.append(
            {
                "shape": shape,
                "product": "VJP per cotangent",
                "implementation": name,
                "s": s,
                "vs fused forward": s / fused,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256 tokens only")
    args = ap.parse_args()
    shapes = [(256, 8, 40)] if args.quick else [(4096, 8, 40), (1024, 8, 80)]
    rows = []
    for tokens, heads, dim in shapes:
        rows += measure(tokens, heads, dim, repeat=2)
        print(markdown_table(rows, list(rows[0])), flush=True)
    columns = ["shape", "product", "implementation", "s", "vs fused forward", "rel. difference from math"]
    name = "attention" + ("-quick" if args.quick else "")
    command = "python bench/attention.py" + (" --quick" if args.quick else "")
    notes = [
        f"CPU, float32, {torch.get_num_threads()} threads; a block of {BLOCK} tangents under torch.func.vmap.",
        "'vs fused forward': seconds per tangent over the fused kernel's forward time.",
        f"The attention map at the largest shape (all 8 heads) is {math.prod((1, 8, shapes[0][0], shapes[0][0])) * 4 / 1e6:.0f} MB "
        "per tangent; the math kernel's JVP holds it for every tangent of a block.",
    ]
    write_results(name, command, {"Attention products": markdown_table(rows, columns)}, {"rows": rows}, notes)


if __name__ == "__main__":
    main()

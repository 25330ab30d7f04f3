"""Benchmark: Jacobian SVD of networks — accuracy, cost against the published method, batching.

Models (CPU, float32):
  * conv: a small conv net with GroupNorm and SDPA attention, x of 1×16×16, h of 8×8×8;
  * unet: the built-in face DDPM (a diffusers UNet2DModel), x_t ↦ mid-block at t = 0.6, at the
    DDIM inversion of built-in face 3: x of 1×32×32, h of 64×8×8 — the map the demo takes apart.

1. Accuracy: top-10 singular values and vectors against the exact SVD of the full Jacobian
   (written down by reverse mode, batched VJPs of every output unit).
2. Cost: the published algorithm (Park et al. 2023), re-implemented from its description —
   random orthonormal V of rank k; block power iteration with JVPs in chunks of 5, VJPs one
   vector at a time; the SVD of VᵀJᵀJ; stop when consecutive V agree to 1e-4 (allclose) after at
   least 10 iterations — against local_basis (defaults: Krylov, blocks of 8) run to the same final
   residual. "Network calls" are
   calls of f (one forward each, with its backward where there is one); a batched call counts 1.
3. scipy svds(solver="propack") on the same operator: its n_matvec, against ours with single
   vectors (block_size=1) to the same residual.
4. Batching: wall time of one batched call of 16 JVPs against one JVP.

    python bench/jacobian.py
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import scipy.sparse.linalg as spla
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import svdlens as sl
from _common import markdown_table, write_results
from nets_models import AttentionNet, full_jacobian

K = 10


class Counted:
    """f with a count of its calls."""

    def __init__(self, f):
        self.f, self.calls = f, 0
        self.model = getattr(f, "model", f)

    def __call__(self, x):
        self.calls += 1
        return self.f(x)


def models():
    torch.manual_seed(0)
    conv = AttentionNet(channels=8).float()
    x1 = torch.randn(1, 1, 16, 16)
    pipe = sl.diffusion.load("builtin-lfw")  # the real-face model: the recorded tables are its
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 25×25 face is resized to 32×32, with a note
        x2 = pipe.invert(sl.faces.builtin()[3], t=0.6, steps=50)
    return [
        ("conv (GroupNorm + attention)", conv, x1),
        ("built-in face DDPM, mid_block at t = 0.6", pipe.h_map(0.6), x2),
    ]


def residual(J, U, S, V):
    """max(‖Jv − σu‖, ‖Jᵀu − σv‖)/σ₁ from the dense Jacobian (outside the timing)."""
    ra = torch.linalg.vector_norm(J @ V - U * S, dim=0)
    rb = torch.linalg.vector_norm(J.T @ U - V * S, dim=0)
    return float(torch.maximum(ra, rb).max() / S[0])


def published(f, x, k=K, tol=1e-4, min_iter=10, max_iter=300, seed=0):
    """Park et al.'s block power iteration, as described (see the module docstring)."""
    op = sl.jacobian(f, x)  # its forward-AD-or-fallback JVP, used in chunks of 5
    n = x.numel()
    g = torch.Generator().manual_seed(seed)
    V = torch.linalg.qr(torch.randn(n, k, generator=g, dtype=x.dtype))[0]
    for it in range(1, max_iter + 1):
        JV = torch.cat([op.matmat(V[:, i : i + 5]) for i in range(0, k, 5)], dim=1)
        JtJV = torch.cat([op.rmatmat(JV[:, i : i + 1]) for i in range(k)], dim=1)  # one VJP at a time
        _, _, Vt = torch.linalg.svd(JtJV.T, full_matrices=False)  # the SVD of VᵀJᵀJ (k × n)
        V_new = Vt[:k].T
        V_new = V_new * torch.sign(V_new[0])  # align signs for the allclose test
        done = it >= min_iter and torch.allclose(V_new, V * torch.sign(V[0]), atol=tol)
        V = V_new
        if done:
            break
    JV = torch.cat([op.matmat(V[:, i : i + 5]) for i in range(0, k, 5)], dim=1)
    S = torch.linalg.vector_norm(JV, dim=0)
    order = torch.argsort(S, descending=True)
    S, V, JV = S[order], V[:, order], JV[:, order]
    return JV / S, S, V, it


def angle_deg(a, b):
    cos = (a * b).sum(0).abs() / (torch.linalg.vector_norm(a, dim=0) * torch.linalg.vector_norm(b, dim=0))
    return float(torch.rad2deg(torch.arccos(cos.clamp(max=1))).max())


def main():
    torch.set_num_threads(max(1, torch.get_num_threads()))
    acc_rows, cost_rows, batch_rows = [], [], []
    for name, f, x in models():
        Jfull = full_jacobian(f, x)
        Ue, Se, Vte = torch.linalg.svd(Jfull.double(), full_matrices=False)

        # Ours, to tight tolerance, for accuracy.
        b = sl.local_basis(f, x, k=K, tol=1e-6)
        Ub, Vb = b.u.reshape(K, -1).T.double(), b.v.reshape(K, -1).T.double()
        acc_rows.append(
            {
                "model": name,
                "J shape": f"{Jfull.shape[0]}×{Jfull.shape[1]}",
                "max rel σ error (top 10)": float(((b.s.double() - Se[:K]).abs() / Se[:K]).max()),
                "max angle v (deg)": angle_deg(Vb, Vte[:K].T),
                "max angle u (deg)": angle_deg(Ub, Ue[:, :K]),
                "converged": b.converged,
                "jvp mode": b.jvp_mode,
            }
        )
        print(acc_rows[-1], flush=True)

        # Published algorithm, then ours at its final residual.
        cf = Counted(f)
        t = time.perf_counter()
        U_p, S_p, V_p, iters = published(cf, x)
        t_pub = time.perf_counter() - t
        r_pub = residual(Jfull, U_p.to(Jfull.dtype), S_p, V_p)
        calls_pub = cf.calls
        co = Counted(f)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = sl.local_basis(co, x, k=K, tol=max(r_pub, 1e-6))
        t_ours = time.perf_counter() - t
        r_ours = residual(Jfull, ours.u.reshape(K, -1).T, ours.s, ours.v.reshape(K, -1).T)
        cost_rows.append(
            {
                "model": name,
                "published: iterations": iters,
                "published: network calls": calls_pub,
                "published: s": t_pub,
                "published: residual": r_pub,
                "svdlens: network calls": co.calls,
                "svdlens: s": t_ours,
                "svdlens: residual": r_ours,
                "calls ratio (published / svdlens)": calls_pub / co.calls,
                "time ratio (published / svdlens)": t_pub / t_ours,
            }
        )
        print(cost_rows[-1], flush=True)

        # PROPACK on the same operator, to the same residual, against single-vector Krylov (per-vector cost).
        single = sl.local_basis(f, x, k=K, tol=max(r_ours, 1e-6), block_size=1)
        J = sl.jacobian(f, x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                spla.svds(J.to_scipy(), k=K, solver="propack", tol=max(r_ours, 1e-6), random_state=0)
                n_prop = J.n_matvec
            except Exception as err:  # reported, not hidden
                n_prop = f"failed: {err}"[:60]
        cost_rows[-1]["propack n_matvec"] = n_prop
        cost_rows[-1]["svdlens n_matvec (block 1)"] = single.n_jvp + single.n_vjp

        # Batching.
        J = sl.jacobian(f, x)
        for b_size in (1, 16):
            V = torch.randn(x.numel(), b_size)
            J.matmat(V)  # warm
            reps = 5
            t = time.perf_counter()
            for _ in range(reps):
                J.matmat(V)
            per_call = (time.perf_counter() - t) / reps
            batch_rows.append(
                {
                    "model": name,
                    "device": "cpu",
                    "block": b_size,
                    "s per call": per_call,
                    "s per vector": per_call / b_size,
                    "jvp mode": J.jvp_mode,
                }
            )
        batch_rows[-1]["16 vectors / 1 vector (time per call)"] = (
            batch_rows[-1]["s per call"] / batch_rows[-2]["s per call"]
        )
        print(batch_rows[-2:], flush=True)

    out = write_results(
        "jacobian",
        "python bench/jacobian.py",
        {
            "Accuracy against the full Jacobian (k = 10)": markdown_table(acc_rows, list(acc_rows[0])),
            "Cost against the published algorithm, equal final residual": markdown_table(cost_rows, list(cost_rows[0])),
            "Batching (CPU)": markdown_table(batch_rows, list(batch_rows[-1])),
        },
        {"accuracy": acc_rows, "cost": cost_rows, "batching": batch_rows},
        ["No GPU was available to this run: GPU figures are missing."],
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

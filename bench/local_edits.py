"""Benchmark: local edits (LOCO Edit) — leakage against r, against h-space directions, and cost.

On the built-in models and the tiny random Stable Diffusion of the tests:

1. Leakage of the directions inside a mouth box at t = 0.6, for r ∈ {0, 5, 10, 20} outside directions
   projected out, and for the h-space directions of the same x_t: the first-order leakage
   ‖(J v)⊙(1−M)‖/‖J v‖ of the x̂0 Jacobian, and the leakage of the real edit (the image denoised
   from x_t + γv against the one from x_t, ``edit_metrics``). On the face-world model
   (``builtin``, the scary face), also what the edit means: the oracle's factor change along
   v1 (``pipe.factor_effects``) and expression's share of it. On the real-face model
   (``builtin-lfw``, trained on 100 faces, which it memorises: say so wherever these figures
   are shown), built-in face 3.
2. Cost: the top-k SVD of the masked x̂0 Jacobian by ``local_basis`` (block Krylov) against the
   power iteration LOCO Edit and Park et al. use (V ← orth(JᵀJ V), JVPs and VJPs on the whole
   block), run until its own certified residual reaches the one ``local_basis`` ended at, with
   ``local_basis``'s default block of 8 and with a block of 2 (fewer products, more calls).
   Products are Jacobian-vector plus vector-Jacobian products.
3. The diagnostics' wall time: ``rank_profile`` over 5 t's and ``linearity`` over 6 step sizes.
4. Transfer (face world): v1 of the scary face's mouth box (r = 5) carried to other faces under
   the same box (``pipe.transport`` of local directions), edited there, against each face's own v1:
   the edit's leakage, the share the transported direction keeps, and expression's share.

    python bench/local_edits.py            # writes bench/results/local_edits.md and .json
"""

from __future__ import annotations

import itertools
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import svdlens as sl
from _common import markdown_table, products, write_results
from svdlens.diffusion._evaluate import edit_metrics
from svdlens.diffusion._local import _flat, image_mask, leakage, model_mask

T, STEPS, K, GAMMA = 0.6, 50, 3, 3.0
MOUTH = (8, 18, 24, 28)  # the mouth of built-in face 3, in the real-face model's 32×32 pixels
WORLD_MOUTH = (22, 38, 42, 50)  # the mouth of the face world's named faces, in 64×64 pixels


def power_iteration(f, x, k: int, target: float, max_iter: int = 500, seed: int = 0) -> dict:
    """LOCO Edit's and Park et al.'s subspace power iteration on JᵀJ, to a certified residual ``target``."""
    J = sl.jacobian(f, x)
    n = x.numel()
    V = torch.linalg.qr(torch.randn(n, k, generator=torch.Generator().manual_seed(seed)))[0]
    taken, residual, iterations = 0, float("inf"), 0
    while iterations < max_iter:
        iterations += 1
        JV = J.matmat(V)
        JtJV = J.rmatmat(JV)
        taken += 2 * k
        S = torch.linalg.vector_norm(JV, dim=0)
        # Rayleigh–Ritz on the block: V's best k-subspace estimate and its certified residual.
        _, _, Wt = torch.linalg.svd(JV, full_matrices=False)
        Vr = V @ Wt.T
        JVr, JtJVr = JV @ Wt.T, JtJV @ Wt.T
        S = torch.linalg.vector_norm(JVr, dim=0)
        residual = float((torch.linalg.vector_norm(JtJVr / S - Vr * S, dim=0) / S.max()).max())
        if residual <= target:
            break
        V = torch.linalg.qr(JtJV)[0]
    return {"iterations": iterations, "products": taken, "residual": residual, "s": sorted(S.tolist(), reverse=True)}


def box_share(fx) -> float:
    """The share of direction 1's factor change on the mouth box's two factors: its curve and its width."""
    return float(fx.share[0, fx.names.index("expression")] + fx.share[0, fx.names.index("mouth_width")])


def leakage_rows(pipe, face, box, label: str, oracle: bool) -> tuple[list[dict], tuple]:
    """Leakage for r ∈ {0, 5, 10} and for the h-space directions; with ``oracle``, what v1 changes."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a start image resized to the model's size, with a note
        xt = pipe.invert(face, t=T, steps=STEPS)
        base = pipe.generate(xt, t=T, steps=STEPS)[0]
    mask = model_mask(image_mask(box, pipe.image_size, pipe.image_size), pipe.size)
    f = pipe.x0_map(T, STEPS)
    x = xt.float()

    def row(name, v_all, first_order, seconds, used=None):
        edits = pipe.edit(xt=xt, v=v_all[0], strengths=[GAMMA, -GAMMA], t=T, steps=STEPS)
        m, minus = (edit_metrics(base, e, mask) for e in edits)
        out = {
            "model": label,
            "directions": name,
            "first-order leakage (v1..v3)": ", ".join(f"{v:.3f}" for v in first_order),
            "edit leakage (v1, +γ)": m.leakage,
            "edit leakage (v1, −γ)": minus.leakage,
            "MSE inside": m.mse_inside,
            "MSE outside": m.mse_outside,
            "SSIM outside": m.ssim_outside,
            "products": used,
            "s": seconds,
        }
        if oracle:
            fx = pipe.factor_effects(v_all[:1], xt=xt, t=T, steps=STEPS)
            j = fx.names.index("expression")
            out["v1 moves most"] = fx.factor[0]
            out["expression's share of v1's factor change"] = float(fx.share[0, j])
            out["the box's factors' share (expression + mouth_width)"] = box_share(fx)
        print(out, flush=True)
        return out

    for r in (0, 5, 10, 20):  # the three, and one past LOCO Edit's range
        t0 = time.perf_counter()
        ld = pipe.local_directions(xt=xt, mask=box, t=T, k=K, r=r, steps=STEPS, tol=1e-3)
        used = sum(products(b) for b in (ld.inside, ld.outside) if b is not None)
        rows.append(row(f"x̂0 inside the box, r = {r}", ld.v, ld.leakage.tolist(), time.perf_counter() - t0, used))
    for mu in (1.0, 4.0, 16.0):  # the whole outside, priced at μ (method="contrast")
        t0 = time.perf_counter()
        ld = pipe.local_directions(
            xt=xt, mask=box, t=T, k=K, steps=STEPS, tol=1e-3, method="contrast", outside_weight=mu
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        rows.append(row(f"x̂0 contrast, μ = {mu:g}", ld.v, ld.leakage.tolist(), seconds, ld.contrast.n_products))
    hb = pipe.directions(xt=xt, t=T, k=K, steps=STEPS)
    rows.append(row("h-space (mid-block), Park et al.", hb.v, leakage(f, x, hb.v, mask).tolist(), None))
    return rows, (f, x, mask)


def transfer_rows(pipe) -> list[dict]:
    """v1 of the scary face's mouth box carried to three faces with the same mouth position, against their own v1."""
    from svdlens.faces import world

    scary = world.named("scary face")
    faces = {"friendly puppet": world.named("friendly puppet")}
    for label, changes in (("scary face, darker skin and less hair", {"skin": 0.75, "hair": 0.3}),
                           ("scary face, lit from the right", {"light": 0.6})):  # fmt: skip
        f = scary.copy()
        for name, value in changes.items():
            f[0, world.NAMES.index(name)] = value
        faces[label] = f
    mask = model_mask(image_mask(WORLD_MOUTH, pipe.image_size, pipe.image_size), pipe.size)
    source = pipe.local_directions(world.render(scary)[0], mask=WORLD_MOUTH, t=T, k=K, r=5, steps=STEPS, tol=1e-3)
    rows = []
    for label, factors in faces.items():
        image = world.render(factors)[0]
        target = pipe.local_directions(image, mask=WORLD_MOUTH, t=T, k=K, r=5, steps=STEPS, tol=1e-3)
        moved = pipe.transport(source, 0, [target])[0]
        base = pipe.generate(target.xt, t=T, steps=STEPS)[0]
        for name, v, kept in (("carried from the scary face", moved.v, moved.kept), ("its own v1", target.v[0], None)):
            edited = pipe.edit(xt=target.xt, v=v, strengths=[GAMMA], t=T, steps=STEPS)[0]
            fx = pipe.factor_effects(v[None], xt=target.xt, t=T, steps=STEPS)
            rows.append(
                {
                    "target": label,
                    "direction": name,
                    "kept (cos J'v, u)": kept,
                    "edit leakage": edit_metrics(base, edited, mask).leakage,
                    "moves most": fx.factor[0],
                    "expression's share": float(fx.share[0, fx.names.index("expression")]),
                    "the box's factors' share": box_share(fx),
                }
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    rows_cost, rows_diag = [], []
    world = sl.diffusion.load("builtin")
    rows_leak, _ = leakage_rows(world, sl.faces.world.face("scary-face"), WORLD_MOUTH, "builtin (face world)", True)
    rows_transfer = transfer_rows(world)
    pipe = sl.diffusion.load("builtin-lfw")
    face = sl.faces.builtin()[3]
    lfw_rows, (f, x, mask) = leakage_rows(pipe, face, MOUTH, "builtin-lfw (real faces)", False)
    rows_leak += lfw_rows

    inside = f.restricted(_flat(mask, x.device))
    for tol, block in itertools.product((1e-2, 1e-3), (8, 2)):  # the default block, and a products-lean one
        t0 = time.perf_counter()
        b = sl.local_basis(inside, x, k=K, tol=tol, block_size=block)
        ours_s = time.perf_counter() - t0
        ours = products(b)
        target = float(b.residuals.max())
        t0 = time.perf_counter()
        pub = power_iteration(inside, x, K, target)
        rows_cost.append(
            {
                "tol": tol,
                "local_basis: block": block,
                "local_basis: products": ours,
                "local_basis: residual": target,
                "local_basis: s": ours_s,
                "power iteration: iterations": pub["iterations"],
                "power iteration: products": pub["products"],
                "power iteration: residual": pub["residual"],
                "power iteration: s": time.perf_counter() - t0,
                "products ratio": pub["products"] / ours,
                "σ agree": float(np.max(np.abs(np.array(pub["s"]) - b.s.numpy()) / b.s[0].item())),
            }
        )
        print(rows_cost[-1], flush=True)

    from tiny_pipelines import tiny_stable_diffusion

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tempfile

        tmp = tempfile.mkdtemp()
        sd = sl.diffusion.load(tiny_stable_diffusion(Path(tmp) / "sd"))
        for name, model, image in (
            ("builtin-lfw (32×32 pixels)", pipe, face),
            ("tiny random Stable Diffusion (16×16 latent)", sd, np.random.default_rng(0).random((3, 32, 32))),
        ):
            t0 = time.perf_counter()
            profile = model.rank_profile(image, ts=(0.1, 0.3, 0.5, 0.7, 0.9), k=8, steps=STEPS)
            rank_s = time.perf_counter() - t0
            v = model.directions(image, t=T, k=1, steps=STEPS).v[0]
            t0 = time.perf_counter()
            lin = model.linearity(image, v, t=T, steps=STEPS)
            rows_diag.append(
                {
                    "model": name,
                    "rank (τ = 0.05) at t = 0.1 … 0.9": ", ".join(
                        f"{r}{'+' if a else ''}" for r, a in zip(profile.rank.tolist(), profile.at_least.tolist())
                    ),
                    "σ₁ at t = 0.1 … 0.9": ", ".join(f"{s:.3g}" for s in profile.s[:, 0]),
                    "rank_profile s": rank_s,
                    "linearity ratio at λ = 0.5 … 16": ", ".join(f"{v:.2f}" for v in lin.ratio),
                    "cosine": ", ".join(f"{v:.2f}" for v in lin.cosine),
                    "linearity s": time.perf_counter() - t0,
                }
            )
            print(rows_diag[-1], flush=True)

    notes = [
        "builtin-lfw memorises its 100 training faces (bench/diffusion.py); its directions are those of a "
        "memorising model. On the face world (builtin) the oracle reads what v1 changes: the targets are edit "
        "leakage ≤ 0.2 at r = 5 and expression's share of the factor change ≥ 0.6.",
        "Contrast rows: method='contrast', the top eigenvectors of Jᵀ(M − μ(1−M))J (Lanczos, scipy's eigsh); "
        "their products are the eigensolver's, residual check included (the inside basis they also report, "
        "for s and leakage before, is not counted). The rows for r count both SVDs. The sign of a direction "
        "is arbitrary (each method fixes its own), and an edit is not symmetric: both signs are shown.",
        f"The scary face (builtin, box {WORLD_MOUTH}) and built-in face 3 (builtin-lfw, box {MOUTH}), inverted to "
        f"t = {T} in {STEPS} DDIM steps; boxes are (x0, y0, x1, y1) over the mouth; edits at γ = {GAMMA} along v1 "
        "(a unit vector) at +γ and −γ, denoised with the model's DDIM; factor changes at ±4 (factor_effects).",
        "First-order leakage is that of the x̂0 Jacobian; edit leakage is ‖Δ⊙(1−M)‖/‖Δ‖ of the denoised images.",
        "Power iteration: V ← orth(JᵀJ V) on the whole block of k, stopped when its Rayleigh–Ritz residual "
        "max(‖Jᵀu − σv‖)/σ₁ (‖Jv − σu‖ = 0 by construction) reaches the residual local_basis certified.",
        "2 CPU cores, float32, one thread per process as the machine was shared.",
    ]
    path = write_results(
        "local_edits",
        "python bench/local_edits.py",
        {
            "Leakage against r, and against h-space directions (both built-in models, mouth box, t = 0.6)": markdown_table(
                rows_leak, list(rows_leak[0])
            ),
            "Products to equal residual: local_basis against power iteration (masked x̂0, k = 3)": markdown_table(
                rows_cost, list(rows_cost[0])
            ),
            "Rank profile and linearity": markdown_table(rows_diag, list(rows_diag[0])),
            "Transfer: the scary face's mouth direction on other faces (face world, r = 5)": markdown_table(
                rows_transfer, list(rows_transfer[0])
            ),
        },
        {"leakage": rows_leak, "cost": rows_cost, "diagnostics": rows_diag, "transfer": rows_transfer},
        notes,
    )
    print(path.read_text())


if __name__ == "__main__":
    main()

"""Benchmark: warm-started local bases against cold ones and against the published power method.

On a built-in model (``--model builtin-lfw``, the default and the recorded table, memorises its
100 training faces, say so wherever this is shown; ``--model builtin``, the face world), the
basis of x_t ↦ h (mid-block, k = 5, tol 1e-4, 50 DDIM steps), in Jacobian products (JVPs + VJPs):

1. a 9-step t sweep (t = 0.9 … 0.1) of face 3: each basis warm-started from the one at the t
   before (``pipe.basis_evolution``), against each cold;
2. a 16-image sweep at t = 0.6 (faces 0–15): each basis warm-started from the previous image's,
   against each cold;
3. the published power method (Park et al. 2023; V ← orth(JᵀJ V) on the block of k, its
   Rayleigh–Ritz residual certified as ours) run on the same x_t's until it reaches the residual
   the cold basis certified, for the first 3 points of each sweep;
4. x-space guidance with the basis recomputed at each of 6 steps (``pipe.guidance_path``), at
   step sizes 1 and 0.1: warm against cold at the same points, and the published power method
   at three of the warm-started points of the s = 0.1 path, to the warm basis's residual;
5. the calibration: a warm start from the true basis turned by a known angle θ (every principal
   angle θ), against cold, at one x_t: what closeness a warm start needs to halve the products.

    python bench/warm_starts.py                    # writes bench/results/warm_starts.md and .json
    python bench/warm_starts.py --model builtin    # writes bench/results/warm_starts-builtin.md and .json
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import svdlens as sl
from _common import markdown_table, products, write_results
from local_edits import power_iteration

K, STEPS, TOL = 5, 50, 1e-4
TS = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)
PUBLISHED_POINTS = 3
GUIDANCE_STEPS, GUIDANCE_SCALES, GUIDANCE_STRENGTH = 6, (1.0, 0.1), 2.0
ANGLES = (1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0)


def turned(v: torch.Tensor, theta: float, seed: int = 0) -> torch.Tensor:
    """``v`` (k orthonormal rows) turned by θ towards a random orthogonal subspace: every principal angle is θ."""
    k = v.shape[0]
    V = v.reshape(k, -1).double()
    W = torch.randn(V.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    W = torch.linalg.qr((W - (W @ V.T) @ V).T)[0].T  # orthonormal, orthogonal to V
    return (torch.cos(torch.tensor(theta)) * V + torch.sin(torch.tensor(theta)) * W).float().reshape(v.shape)


def guidance_rows(pipe, xt) -> list[dict]:
    """x-space guidance with the basis recomputed at each step: warm against cold at the same points."""
    b = pipe.directions(xt=xt, t=0.6, k=K, steps=STEPS, tol=TOL)
    rows = []
    for scale in GUIDANCE_SCALES:
        run = {
            warm: pipe.guidance_path(
                xt=xt, v=b.v[0], strength=GUIDANCE_STRENGTH, t=0.6, steps=STEPS, iterations=GUIDANCE_STEPS, k=K,
                warm=warm, tol=TOL, scale=scale,
            )
            for warm in (True, False)
        }  # fmt: skip
        path = run[True]
        moved = [sl.grassmann_distance(path.bases[i].v, path.bases[i + 1].v) for i in range(GUIDANCE_STEPS - 1)]
        rows.append(
            {
                "step size s": scale,
                "Grassmann distance between consecutive bases": f"{min(moved):.3f}–{max(moved):.3f}",
                "warm: products": run[True].products,
                "cold: products": run[False].products,
                "warm / cold": run[True].products / run[False].products,
                "same directions followed": run[True].followed == run[False].followed,
            }
        )
        print(rows[-1], flush=True)
    return rows, run[True]


def published_on_path(pipe, path) -> list[dict]:
    """The published power method at the warm-started points of a guidance path, to each warm basis's residual."""
    f = pipe.h_map(0.6, STEPS)
    rows = []
    for j in range(1, 4):  # the first basis starts cold
        basis, x = path.bases[j], path.xs[j].float()
        target = float(basis.residuals.max())
        pub = power_iteration(f, x, K, target, max_iter=400)
        rows.append(
            {
                "guidance point": j,
                "warm svdlens: products": products(basis),
                "residual reached": target,
                "power method: products": pub["products"],
                "power method: residual": pub["residual"],
                "power / warm svdlens": pub["products"] / products(basis),
            }
        )
        print(rows[-1], flush=True)
    return rows


def calibration_rows(pipe, xt) -> list[dict]:
    """Products from a start turned by θ from the converged basis, against cold, at one x_t (t = 0.6)."""
    f = pipe.h_map(0.6, STEPS)
    x = xt.float()
    cold = sl.local_basis(f, x, k=K, tol=TOL)
    truth = sl.local_basis(f, x, k=K, tol=1e-7, max_iter=400)  # the basis the starts are turned from
    rows = []
    for theta in (0.0, *ANGLES):
        start = turned(truth.v, theta)
        warm = sl.local_basis(f, x, k=K, tol=TOL, start=start)
        rows.append(
            {
                "θ (every principal angle)": theta,
                "Grassmann distance θ√k": theta * K**0.5,
                "warm: products": products(warm),
                "cold: products": products(cold),
                "warm / cold": products(warm) / products(cold),
                "warm: residual": float(warm.residuals.max()),
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="builtin-lfw", choices=("builtin-lfw", "builtin"))
    model = ap.parse_args().model
    pipe = sl.diffusion.load(model)
    rows, points = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 25×25 real faces are resized to the model's size, with a note
        faces = [sl.diffusion.start_face(model, i) for i in range(16)]
        t0 = time.perf_counter()
        warm = pipe.basis_evolution(faces[3], TS, k=K, steps=STEPS, tol=TOL)
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cold = pipe.basis_evolution(faces[3], TS, k=K, steps=STEPS, tol=TOL, warm=False)
        cold_s = time.perf_counter() - t0
        rows.append(
            {
                "sweep": "9 t's (0.9 … 0.1), face 3",
                "warm: products": int(warm.products.sum()),
                "cold: products": int(cold.products.sum()),
                "warm / cold": warm.products.sum() / cold.products.sum(),
                "warm: s": warm_s,
                "cold: s": cold_s,
                "all converged": all(b.converged for b in warm.bases[0] + cold.bases[0]),
            }
        )
        print(rows[-1], flush=True)
        for j in range(PUBLISHED_POINTS):
            grid_t = TS[j]
            xt = pipe.invert(faces[3], t=grid_t, steps=STEPS)
            points.append((f"t = {grid_t}, face 3", pipe.h_map(grid_t, STEPS), xt, cold.bases[0][j], warm.bases[0][j]))

        xts = [pipe.invert(faces[i], t=0.6, steps=STEPS) for i in range(16)]
        warm_p, warm_bases, cold_p, previous = [], [], [], None
        t0 = time.perf_counter()
        for xt in xts:
            b = pipe.directions(xt=xt, t=0.6, k=K, steps=STEPS, tol=TOL, start=None if previous is None else previous.v)
            warm_p.append(products(b))
            warm_bases.append(b)
            previous = b
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cold_bases = [pipe.directions(xt=xt, t=0.6, k=K, steps=STEPS, tol=TOL) for xt in xts]
        cold_s = time.perf_counter() - t0
        cold_p = [products(b) for b in cold_bases]
        rows.append(
            {
                "sweep": "16 faces (0–15) at t = 0.6",
                "warm: products": int(sum(warm_p)),
                "cold: products": int(sum(cold_p)),
                "warm / cold": sum(warm_p) / sum(cold_p),
                "warm: s": warm_s,
                "cold: s": cold_s,
                "all converged": all(b.converged for b in cold_bases),
            }
        )
        print(rows[-1], flush=True)
        for i in range(PUBLISHED_POINTS):
            points.append((f"face {i}, t = 0.6", pipe.h_map(0.6, STEPS), xts[i], cold_bases[i], warm_bases[i]))

        published = []
        for label, f, xt, basis, warm_basis in points:
            target = float(basis.residuals.max())
            t0 = time.perf_counter()
            pub = power_iteration(f, xt.float(), K, target, max_iter=400)
            published.append(
                {
                    "point": label,
                    "cold svdlens: products": products(basis),
                    "residual reached": target,
                    "power method: iterations": pub["iterations"],
                    "power method: products": pub["products"],
                    "power method: residual": pub["residual"],
                    "power / cold svdlens": pub["products"] / products(basis),
                    "warm svdlens: products": products(warm_basis),
                    "warm svdlens: residual": float(warm_basis.residuals.max()),
                    "power / warm svdlens": pub["products"] / products(warm_basis),
                    "power method: s": time.perf_counter() - t0,
                }
            )
            print(published[-1], flush=True)
        guidance, path = guidance_rows(pipe, xts[0])
        on_path = published_on_path(pipe, path)
        calibration = calibration_rows(pipe, xts[0])
    notes = [
        "The real-face model (builtin-lfw) memorises its 100 training faces (bench/diffusion.py)."
        if model == "builtin-lfw"
        else "The face-world model (builtin): start faces from the world's gallery, faces 0–15.",
        f"Every basis: k = {K}, tol {TOL:g} (certified residual), {STEPS} DDIM steps, the refined inversion "
        "(refine = 1). A tol finer than float32 resolves for the map's size (16·eps·√max(m, n)) is raised to that, "
        "so a residual may read slightly above 1e-4 (sl.svd's docs).",
        "Warm start: the previous basis's v as the first columns of the Krylov start block "
        "(at least one column stays random; at least two block steps, so a wrong invariant subspace cannot pass).",
        "Power method: stopped once its certified residual reaches the cold basis's, or after 400 iterations "
        "(then its residual is the one it had). The warm basis at the same point is the sweep's (the first point of "
        "each sweep starts cold); it is held to the same tol, so its residual may differ a little from the cold one's.",
        f"x-space guidance: {GUIDANCE_STEPS} steps x ← x + s·(ε(x + γv) − ε(x)), γ = {GUIDANCE_STRENGTH:g}, from "
        "face 0's x_t at t = 0.6, v re-read from the basis at each point (pipe.guidance_path).",
        "Calibration: the start is the converged basis (tol 1e-7) turned by θ towards a random orthogonal "
        "subspace; θ = 0 is the true basis.",
        "The CelebA-HQ-256-size architecture: bench/warm_starts_celebahq.py (about 460 s per cold basis on 2 cores).",
        "2 CPU cores shared with other work; products are what to compare, seconds only roughly.",
    ]
    path = write_results(
        "warm_starts" if model == "builtin-lfw" else f"warm_starts-{model}",
        "python bench/warm_starts.py" + ("" if model == "builtin-lfw" else f" --model {model}"),
        {
            "Warm against cold, products to the same certified tolerance": markdown_table(rows, list(rows[0])),
            "The published power method to the cold basis's residual": markdown_table(published, list(published[0])),
            "x-space guidance with the basis recomputed at each step": markdown_table(guidance, list(guidance[0])),
            "The published power method at the warm-started guidance points (s = 0.1)": markdown_table(
                on_path, list(on_path[0])
            ),
            "Calibration: how close a warm start must be": markdown_table(calibration, list(calibration[0])),
        },
        {
            "sweeps": rows,
            "published": published,
            "products_t_warm": warm.products.tolist(),
            "products_t_cold": cold.products.tolist(),
            "products_images_warm": warm_p,
            "products_images_cold": cold_p,
            "guidance": guidance,
            "published_on_guidance_path": on_path,
            "calibration": calibration,
        },  # fmt: skip
        notes,
    )
    print(path.read_text())


if __name__ == "__main__":
    main()

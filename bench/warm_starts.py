"""Benchmark: warm-started local bases against cold ones and against the published power method.

On the built-in model (it memorises its 100 training faces; say so wherever this is shown), the
basis of x_t ↦ h (mid-block, k = 5, tol 1e-4, 50 DDIM steps), in Jacobian products (JVPs + VJPs):

1. a 9-step t sweep (t = 0.9 … 0.1) of face 3: each basis warm-started from the one at the t
   before (``pipe.basis_evolution``), against each cold;
2. a 16-image sweep at t = 0.6 (faces 0–15): each basis warm-started from the previous image's,
   against each cold;
3. the published power method (Park et al. 2023; V ← orth(JᵀJ V) on the block of k, its
   Rayleigh–Ritz residual certified as ours) run on the same x_t's until it reaches the residual
   the cold basis certified, for the first 3 points of each sweep.

    python bench/warm_starts.py        # writes bench/results/warm_starts.md and .json
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import svdlens as sl
from _common import markdown_table, write_results
from local_edits import power_iteration

K, STEPS, TOL = 5, 50, 1e-4
TS = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)
PUBLISHED_POINTS = 3


def products(b) -> int:
    return int(b.n_jvp + b.n_vjp)


def main() -> None:
    pipe = sl.diffusion.load("builtin-lfw")  # the real-face model: the recorded tables are its
    rows, points = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 25×25 faces are resized to 32×32, with a note
        faces = sl.faces.builtin()
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
            points.append((f"t = {grid_t}, face 3", pipe.h_map(grid_t, STEPS), xt, cold.bases[0][j]))

        xts = [pipe.invert(faces[i], t=0.6, steps=STEPS) for i in range(16)]
        warm_p, cold_p, previous = [], [], None
        t0 = time.perf_counter()
        for xt in xts:
            b = pipe.directions(xt=xt, t=0.6, k=K, steps=STEPS, tol=TOL, start=None if previous is None else previous.v)
            warm_p.append(products(b))
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
            points.append((f"face {i}, t = 0.6", pipe.h_map(0.6, STEPS), xts[i], cold_bases[i]))

        published = []
        for label, f, xt, basis in points:
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
                    "power method: s": time.perf_counter() - t0,
                }
            )
            print(published[-1], flush=True)
    notes = [
        "The built-in model memorises its 100 training faces (bench/diffusion.py).",
        f"Every basis: k = {K}, tol {TOL:g} (certified residual), {STEPS} DDIM steps, the refined inversion "
        "(refine = 1).",
        "Warm start: the previous basis's v as the first columns of the Krylov start block "
        "(at least one column stays random; at least two block steps, so a wrong invariant subspace cannot pass).",
        "Power method: stopped once its certified residual reaches the cold basis's, or after 400 iterations "
        "(then its residual is the one it had).",
        "The CelebA-HQ-256-size architecture was not run here (about 460 s per cold basis on 2 cores).",
        "2 CPU cores shared with other work; products are what to compare, seconds only roughly.",
    ]
    path = write_results(
        "warm_starts",
        "python bench/warm_starts.py",
        {
            "Warm against cold, products to the same certified tolerance": markdown_table(rows, list(rows[0])),
            "The published power method to the cold basis's residual": markdown_table(published, list(published[0])),
        },
        {
            "sweeps": rows,
            "published": published,
            "products_t_warm": warm.products.tolist(),
            "products_t_cold": cold.products.tolist(),
            "products_images_warm": warm_p,
            "products_images_cold": cold_p,
        },  # fmt: skip
        notes,
    )
    print(path.read_text())


if __name__ == "__main__":
    main()

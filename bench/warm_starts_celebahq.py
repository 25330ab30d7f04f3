"""Benchmark: warm-started local bases on the CelebA-HQ-256-size architecture, against cold ones.

The google/ddpm-celebahq-256 U-Net architecture (``bench/scale.py``'s ``build``), with random
weights: nothing may download weights here, and a random network costs the same per product
(its top singular values are nearly equal, the hard case for any eigensolver). The map is
x_t ↦ mid-block output at the DDPM timestep of t, with x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε for a built-in
face x₀ resized to 3×256×256 and one fixed ε (the model's linear β schedule, 1000 steps).

Two sweeps, k = 5 and tol 1e-2 (a basis to 1e-3 takes about 460 s on 2 cores, bench/scale.py):

1. t = 0.6 → 0.5, face 0: the basis at 0.5 warm-started from the one at 0.6, against cold;
2. faces 0 → 1 at t = 0.6: face 1's basis warm-started from face 0's, against cold.

The published power method on this architecture is measured in ``bench/scale.py`` (its table
"Local basis against the published algorithm"); it is not run again here.

    python bench/warm_starts_celebahq.py     # writes bench/results/warm_starts-celebahq.md and .json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import svdlens as sl
from _common import RESULTS, markdown_table, write_results
from scale import build, peak_rss

K, TOL = 5, 1e-2
TS = (0.6, 0.5)
T_IMAGES = 0.6
PARTIAL = RESULTS / "warm_starts-celebahq.partial.json"  # each basis as it ends, for a run that is stopped


def x_t(face: int, t: float, size: int) -> torch.Tensor:
    """A built-in face at 3×size×size, noised to t with the linear β schedule (1e-4 … 0.02, 1000 steps)."""
    x0 = torch.from_numpy(np.asarray(sl.faces.builtin("faces")[face], np.float32))[None, None]
    x0 = torch.nn.functional.interpolate(x0, size=(size, size), mode="bilinear").repeat(1, 3, 1, 1) * 2 - 1
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    abar = float(torch.cumprod(1 - betas, 0)[round(t * 1000) - 1])
    eps = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    return (abar**0.5 * x0 + (1 - abar) ** 0.5 * eps).float()


def basis(model, face: int, t: float, size: int, start=None) -> tuple[sl.nets.LocalBasis, float]:
    g = sl.layer_map(model, "mid_block", timestep=round(t * 1000) - 1)
    t0 = time.perf_counter()
    b = sl.local_basis(g, x_t(face, t, size), k=K, tol=TOL, start=start)
    return b, time.perf_counter() - t0


def record(b, seconds: float) -> dict:
    return {
        "products": int(b.n_jvp + b.n_vjp),
        "seconds": seconds,
        "residual": float(b.residuals.max()),
        "converged": bool(b.converged),
        "s": b.s.tolist(),
    }


def main() -> None:
    quick = "--quick" in sys.argv  # a 32×32 stand-in, to try the script in seconds (nothing is written)
    torch.manual_seed(0)
    model, x, _ = build("celebahq", quick=quick)
    size = x.shape[-1]
    done: dict = {}
    bases: dict = {}

    def run(name, face, t, start_from=None):
        start = None if start_from is None else bases[start_from].v
        b, seconds = basis(model, face, t, size, start)
        bases[name] = b
        done[name] = record(b, seconds)
        if not quick:
            PARTIAL.write_text(json.dumps(done, indent=2))
        print(name, done[name], flush=True)

    run("cold t=0.6 face 0", 0, TS[0])
    run("cold t=0.5 face 0", 0, TS[1])
    run("warm t=0.5 face 0", 0, TS[1], start_from="cold t=0.6 face 0")
    run("cold t=0.6 face 1", 1, T_IMAGES)
    run("warm t=0.6 face 1", 1, T_IMAGES, start_from="cold t=0.6 face 0")
    rows = []
    for sweep, cold, warm in (
        ("t 0.6 → 0.5, face 0", "cold t=0.5 face 0", "warm t=0.5 face 0"),
        ("face 0 → 1, t = 0.6", "cold t=0.6 face 1", "warm t=0.6 face 1"),
    ):
        c, w = done[cold], done[warm]
        rows.append(
            {
                "sweep": sweep,
                "warm: products": w["products"],
                "cold: products": c["products"],
                "warm / cold": w["products"] / c["products"],
                "warm: s": w["seconds"],
                "cold: s": c["seconds"],
                "warm: residual": w["residual"],
                "cold: residual": c["residual"],
                "σ₁ warm / cold − 1": w["s"][0] / c["s"][0] - 1,
                "both converged": w["converged"] and c["converged"],
            }
        )
    distance = sl.grassmann_distance(bases["cold t=0.6 face 0"].v, bases["cold t=0.5 face 0"].v)
    notes = [
        "Random weights (the CelebA-HQ-256 architecture, 3×256×256, mid-block): no weights are downloaded. "
        "Its top singular values are nearly equal, so every Krylov start converges slowly.",
        f"Every basis: k = {K}, tol {TOL:g} (certified residual), svdlens local_basis defaults otherwise.",
        "Warm start: the earlier basis's v as the first columns of the Krylov start block.",
        "The published power method on this architecture: bench/results/scale.md (2.16× the wall time of "
        "local_basis at the published run's own residual, 5.0× extrapolated to local_basis's residual).",
        f"Peak RSS {peak_rss() / 1e9:.2f} GB; 1 thread of a 2-core machine shared with other work.",
    ]
    notes.append(f"Grassmann distance between face 0's cold bases at t = 0.6 and 0.5: {distance:.3f}.")
    if quick:
        print(markdown_table(rows, list(rows[0])), *notes, sep="\n")
        return
    path = write_results(
        "warm_starts-celebahq",
        "python bench/warm_starts_celebahq.py",
        {"Warm against cold, products to the same certified tolerance": markdown_table(rows, list(rows[0]))},
        {"rows": rows, "bases": done},
        notes,
    )
    PARTIAL.unlink(missing_ok=True)
    print(path.read_text())


if __name__ == "__main__":
    main()

"""Benchmark: render time of every explain scene at its default size (target: under 5 s each).

Each scene's figure and, where it has one, its animation (GIF) are rendered to files, for the
script's 2×2 matrix and for a 3×2 matrix (drawn in 3-D). Best of 2 runs.

    python bench/explain.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, markdown_table, write_results
from svdlens._plotting import save_animation, save_figure
from svdlens.scenes import SCENES, explain

TARGET_S = 5.0


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, A in (
            ("2×2 [[0.4, 0.2], [1, 3]]", [[0.4, 0.2], [1, 3]]),
            ("3×2 [[1, 2], [0, 1], [1, 0]]", [[1, 2], [0, 1], [1, 0]]),
        ):
            ex = explain(np.array(A, float), vector=[2, 1])
            for scene in ex.scenes:
                spec = SCENES[scene.name]
                if spec.draw is not None and ex.drawable(scene):

                    def figure(spec=spec, scene=scene):
                        fig = spec.draw(scene)
                        return None if fig is None else save_figure(fig, Path(tmp) / f"{scene.name}.png")

                    out, secs = best_time(figure, 2)
                    if out is not None:
                        rows.append(
                            {
                                "matrix": label,
                                "scene": scene.name,
                                "output": "figure (PNG)",
                                "seconds": secs,
                                "under 5 s": secs < TARGET_S,
                            }
                        )
                if spec.animate is not None and ex.drawable(scene) and ex.A.shape == (2, 2):
                    _, secs = best_time(
                        lambda spec=spec, scene=scene: save_animation(
                            spec.animate(scene), Path(tmp) / f"{scene.name}.gif", fps=8
                        ),
                        2,
                    )
                    rows.append(
                        {
                            "matrix": label,
                            "scene": scene.name,
                            "output": "animation (GIF)",
                            "seconds": secs,
                            "under 5 s": secs < TARGET_S,
                        }
                    )
                print(rows[-1] if rows else "", flush=True)
    worst = max(r["seconds"] for r in rows)
    out = write_results(
        "explain",
        "python bench/explain.py",
        {"Render time per scene": markdown_table(rows, list(rows[0]))},
        {"rows": rows, "worst_seconds": worst, "target_seconds": TARGET_S},
        [f"Slowest: {worst:.2f} s (target {TARGET_S:.0f} s)."],
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Memory stays bounded on the largest work the command line allows: peak RSS per case.

Each case runs the real command (``svdlens ...``) in its own process, so that peaks do not
mix, and reads the process's high-water mark (``VmHWM``, via ``resource.getrusage`` of the
child). Side by side: an edit grid of 8 strengths and one of the maximum (64), and the
largest image the default pixel cap admits (4096×4096) against a small one.

    python bench/reliability.py            # writes bench/results/reliability.md and .json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import markdown_table, write_results
from svdlens._defaults import MAX_PIXELS, MAX_STRENGTHS

LIMIT_GB = 4.0  # the documented bound each case must stay under


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer DDIM steps (a smoke run).")
    opts = parser.parse_args()
    steps = "2" if opts.quick else "10"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        side = int(np.sqrt(MAX_PIXELS))
        big, small = Path(tmp) / "big.png", Path(tmp) / "small.png"
        rng = np.random.default_rng(0)
        Image.fromarray((rng.random((side, side)) * 255).astype(np.uint8)).save(big)
        Image.fromarray((rng.random((64, 64)) * 255).astype(np.uint8)).save(small)
        # Each case runs under its own parent process, so RUSAGE_CHILDREN there is that case's peak alone.
        cases = [
            ("edit, 8 strengths", ["edit", "--image", "builtin:3", "--strength=-3:3:8", "--steps", steps, "--quiet"]),
            (
                f"edit, {MAX_STRENGTHS} strengths (the cap)",
                ["edit", "--image", "builtin:3", f"--strength=-3:3:{MAX_STRENGTHS}", "--steps", steps, "--quiet"],
            ),
            (
                "directions, a 64×64 image",
                ["directions", "--image", str(small), "-k", "2", "--steps", steps, "--quiet"],
            ),
            (
                f"directions, a {side}×{side} image (the pixel cap)",
                ["directions", "--image", str(big), "-k", "2", "--steps", steps, "--quiet"],
            ),
        ]
        for i, (label, args) in enumerate(cases):
            out = Path(tmp) / f"out{i}"
            code = (
                "import resource, subprocess, sys; "
                f"subprocess.call([sys.executable, '-m', 'svdlens', *{[*args, '--out', str(out)]!r}], "
                "stdout=subprocess.DEVNULL); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
            )
            t0 = time.perf_counter()
            peak_kb = int(
                subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
            )
            seconds = time.perf_counter() - t0
            ok = (out / "summary.json").exists()
            rows.append(
                {
                    "case": label,
                    "seconds": seconds,
                    "peak RSS (GB)": peak_kb / 2**20,
                    "finished": ok,
                    f"under {LIMIT_GB:g} GB": peak_kb / 2**20 < LIMIT_GB,
                }
            )
            print(rows[-1], flush=True)
    columns = ["case", "seconds", "peak RSS (GB)", "finished", f"under {LIMIT_GB:g} GB"]
    notes = [
        "Each case is the real command in a fresh process (python -m svdlens ...); peak RSS is the child's ru_maxrss.",
        f"An edit grid is denoised {8} strengths at a time (FacePipeline.edit), so 8 and {MAX_STRENGTHS} strengths "
        "should peak alike; an image is checked against the pixel cap from its header before decoding.",
        f"DDIM steps: {steps}; the built-in 32×32 model.",
    ]
    command = "python bench/reliability.py" + (" --quick" if opts.quick else "")
    path = write_results(
        "reliability" + ("-quick" if opts.quick else ""),
        command,
        {"Peak memory of the largest allowed work": markdown_table(rows, columns)},
        {"rows": rows, "limit_gb": LIMIT_GB},
        notes,
    )
    print(path.read_text())


if __name__ == "__main__":
    main()

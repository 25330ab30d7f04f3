"""Memory stays bounded on the largest work the command line allows: peak RSS per case.

Each case runs the real command (``svdlens ...``) in its own process, so that peaks do not
mix, and reads the process's high-water mark (``VmHWM``, via ``resource.getrusage`` of the
child). Side by side: an edit grid of 8 strengths and one of the maximum (64), and the
largest image the default pixel cap admits (4096×4096) against a small one.

    python bench/reliability.py            # writes bench/results/reliability.md and .json
    python bench/reliability.py --folders-only   # only the broken model folders: reliability-folders.md

The broken model folders (the cases of ``tests/test_load_hardening.py``) are a block of their
own at the end of this file: each through ``svdlens sample --model FOLDER`` in its own process,
with the seconds to the error, the peak RSS, the exit code and the lines printed.
"""

from __future__ import annotations

import argparse
import json
import os
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
    parser.add_argument("--folders-only", action="store_true", help="Only the broken model folders.")
    opts = parser.parse_args()
    if opts.folders_only:
        broken_folders_main()
        return
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
    broken_folders_main()


# ----------------------------------------------------------------------------- broken model folders (issue 22: loading)
FOLDER_SECONDS = 10  # the target: every broken folder refused within 10 s
FOLDER_CHILD = """
import json, resource, sys, time
from svdlens.cli import app
import diffusers, transformers  # the imports (lazy in both libraries) are not the load's time
for name in ("UNet2DModel", "UNet2DConditionModel", "AutoencoderKL", "DDIMScheduler", "DDIMInverseScheduler"):
    getattr(diffusers, name)
for name in ("CLIPTextModel", "CLIPTextConfig", "CLIPTokenizer"):
    getattr(transformers, name)
vm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize"))
cap, hard = vm + 4 * 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]
resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
t0 = time.perf_counter()
try:
    app(sys.argv[1:], prog_name="svdlens")
    code = 0
except SystemExit as stop:
    code = stop.code
except MemoryError:
    code = "MemoryError"
print(json.dumps({"code": code, "seconds": time.perf_counter() - t0,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def broken_folder_rows(tmp: Path) -> list[dict]:
    """Each case of ``tests/test_load_hardening.py`` through ``svdlens sample --model`` in a fresh process.

    The child imports svdlens first (Python's start and the imports are not counted), caps
    its address space at 4 GiB above that, then runs the command: the seconds are those of
    the command, the peak RSS that of the whole process.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_load_hardening import CASES
    from tiny_pipelines import broken_copy, tiny_ddim, tiny_stable_diffusion

    originals = {"sd": tiny_stable_diffusion(tmp / "sd"), "ddim": tiny_ddim(tmp / "ddim")}
    rows = []
    for i, (case, (base, breaks, _)) in enumerate(CASES.items()):
        folder = broken_copy(originals[base], tmp / f"case{i}")
        breaks(folder)
        out = tmp / f"out{i}"
        args = ["sample", "--model", str(folder), "--steps", "2", "--quiet", "--out", str(out)]
        try:
            done = subprocess.run(
                [sys.executable, "-c", FOLDER_CHILD, *args], capture_output=True, text=True, timeout=120,
                env={**os.environ, "COLUMNS": "10000"},
            )  # fmt: skip
            result = json.loads(done.stdout.strip().splitlines()[-1])
            lines = [line for line in done.stderr.splitlines() if line.strip()]
        except subprocess.TimeoutExpired:
            result, lines = {"code": "timed out", "seconds": 120.0, "rss_kb": None}, []
        rows.append(
            {
                "case": case,
                "exit code": result["code"],
                "seconds": result["seconds"],
                "peak RSS (GB)": None if result["rss_kb"] is None else result["rss_kb"] / 2**20,
                "lines printed": len(lines),
                "wrote nothing": not out.exists(),
                f"within {FOLDER_SECONDS} s": result["seconds"] < FOLDER_SECONDS,
                "message": lines[0].removeprefix("error: ").replace(str(tmp), "…")[:100] if lines else "",
            }
        )
        print(rows[-1], flush=True)
    return rows


def broken_folders_main() -> None:
    """The broken model folders' table: bench/results/reliability-folders.md and .json."""
    with tempfile.TemporaryDirectory() as tmp:
        rows = broken_folder_rows(Path(tmp))
    columns = ["case", "exit code", "seconds", "peak RSS (GB)", "lines printed", "wrote nothing",
               f"within {FOLDER_SECONDS} s", "message"]  # fmt: skip
    notes = [
        "Each case is a copy of a tiny random diffusers folder (tests/tiny_pipelines.py) broken in one way, "
        "given to `svdlens sample --model FOLDER` in a fresh process; seconds from the command's start, after the "
        "imports of svdlens, diffusers and transformers (their model classes included: both libraries import lazily).",
        "Peak RSS is the whole process's (Python, torch, diffusers and transformers take most of it).",
        "The child's address space is capped at 4 GiB above its imports, so that a regression fails instead of "
        "taking the machine: the 10^8-timestep schedule took 6.9 GB before it was capped.",
    ]
    path = write_results(
        "reliability-folders",
        "python bench/reliability.py --folders-only",
        {"Broken model folders: refused, fast, in one line": markdown_table(rows, columns)},
        {"rows": rows, "target_seconds": FOLDER_SECONDS},
        notes,
    )
    print(path.read_text())


if __name__ == "__main__":
    main()

"""Memory stays bounded on the largest work the command line allows: peak RSS per case.

Each case runs the real command (``svdlens ...``) in its own process, so that peaks do not
mix, and reads the process's high-water mark (``VmHWM``, via ``resource.getrusage`` of the
child). Side by side: an edit grid of 8 strengths and one of the maximum (64), and the
largest image the default pixel cap admits (4096×4096) against a small one.

    python bench/reliability.py            # writes bench/results/reliability.md and .json
    python bench/reliability.py --folders-only   # only the broken model folders: reliability-folders.md
    python bench/reliability.py --round2-only    # only hardening round 2: reliability-round2.md

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
    parser.add_argument("--round2-only", action="store_true", help="Only the hardening round 2 cases.")
    parser.add_argument(
        "--family", help="With --round2-only: re-measure this family only, keeping the other rows of the last run."
    )
    opts = parser.parse_args()
    if opts.folders_only:
        broken_folders_main()
        return
    if opts.round2_only:
        round2_main(opts.family)
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
    round2_main()


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
        row = _child(args, tmp, timeout=120, width=100)
        rows.append(
            {
                "case": case,
                **{key: row[key] for key in ("exit code", "seconds", "peak RSS (GB)", "lines printed")},
                "wrote nothing": not out.exists(),
                f"within {FOLDER_SECONDS} s": row["seconds"] < FOLDER_SECONDS,
                "message": row["message"],
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


# ----------------------------------------------------------------------------- hardening, round 2 (issue 22)
def _child(args: list[str], tmp: Path, timeout: float = 300, width: int = 110) -> dict:
    """``svdlens ARGS`` in a fresh, address-capped process (FOLDER_CHILD): exit code, seconds, peak RSS, lines."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", FOLDER_CHILD, *args], capture_output=True, text=True, timeout=timeout,
            env={**os.environ, "COLUMNS": "10000"}, cwd=tmp,
        )  # fmt: skip
        result = json.loads(done.stdout.strip().splitlines()[-1])
        lines = [line for line in done.stderr.splitlines() if line.strip()]
    except subprocess.TimeoutExpired:
        result, lines = {"code": "timed out", "seconds": timeout, "rss_kb": None}, []
    return {
        "exit code": result["code"],
        "seconds": result["seconds"],
        "peak RSS (GB)": None if result["rss_kb"] is None else result["rss_kb"] / 2**20,
        "lines printed": len(lines),
        "message": lines[0].removeprefix("error: ").replace(str(tmp), "…")[:width] if lines else "",
    }


def _peer(reply: bytes) -> str:
    """A loopback TCP server that accepts, sends ``reply`` and then stays silent; its address."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(600)

    def serve() -> None:
        kept = []
        try:
            while True:
                conn, _ = server.accept()
                conn.sendall(reply)
                kept.append(conn)  # held open, silent, until the bench ends
        except OSError:
            return

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}"


def _mount(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True).returncode
        == 0
    )


def round2_rows(tmp: Path, family_only: str | None = None) -> list[dict]:
    """The families of issue 22, each case through the real command line in its own process."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from diffusers import UNet2DModel
    from safetensors.torch import load_file, save_file

    from tiny_pipelines import broken_copy, ddim_scheduler, tiny_ddim, tiny_stable_diffusion

    ddim, sd = tiny_ddim(tmp / "ddim"), tiny_stable_diffusion(tmp / "sd")

    def overflowing(folder: Path, name: str, weights: str, key: str) -> Path:
        copy = broken_copy(folder, tmp / name)
        tensors = load_file(str(copy / weights))
        tensors[key] = tensors[key].new_full(tensors[key].shape, 3e38)
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(copy / weights), metadata={"format": "pt"})
        return copy

    unet_nan = overflowing(ddim, "unet-overflows", "unet/diffusion_pytorch_model.safetensors", "conv_out.weight")
    vae_nan = overflowing(sd, "vae-overflows", "vae/diffusion_pytorch_model.safetensors", "decoder.conv_out.weight")
    text_nan = overflowing(sd, "text-overflows", "text_encoder/model.safetensors", "final_layer_norm.weight")
    # A 256×256 pixel model with few channels: activations at 256² dominate the memory, as in CelebA-HQ-256;
    # 64 samples at once would hold about 3 GB of them.
    big = tmp / "ddpm-256"
    from diffusers import DDIMPipeline

    DDIMPipeline(
        unet=UNet2DModel(sample_size=256, in_channels=3, out_channels=3, layers_per_block=1,
                         block_out_channels=(16, 32), down_block_types=("DownBlock2D", "DownBlock2D"),
                         up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=8),
        scheduler=ddim_scheduler(),
    ).save_pretrained(big, safe_serialization=True)  # fmt: skip
    silent, garbage = _peer(b""), _peer(b"\xff" * 8)  # accept and say nothing; a length prefix of 2**64 - 1
    images = tmp / "images"
    images.mkdir()
    for i in range(2):
        Image.fromarray((np.random.default_rng(i).random((32, 32)) * 255).astype(np.uint8)).save(images / f"{i}.png")
    (tmp / "afile").write_text("mine")
    full, ro = tmp / "full", tmp / "ro"
    mounted = _mount(full, "size=64k") and _mount(ro, "size=64k,ro")
    cases: list[tuple[str, str, list[str]]] = [
        ("non-finite", "U-Net overflows (finite weights of 3e38)", ["sample", "--model", str(unet_nan), "--n", "2"]),
        ("non-finite", "VAE decoder overflows", ["sample", "--model", str(vae_nan), "--n", "1", "--prompt", "a face"]),
        (
            "non-finite",
            "text encoder overflows",
            ["sample", "--model", str(text_nan), "--n", "1", "--prompt", "a face"],
        ),
        (
            "non-finite",
            "edit on the overflowing U-Net",
            ["edit", "--model", str(unet_nan), "--seed", "0", "--t", "0.5"],
        ),
        (
            "ignored flag",
            "--negative-prompt with guidance 1",
            ["sample", "--model", str(sd), "--guidance", "1", "--negative-prompt", "blurry"],
        ),
        (
            "ignored flag",
            "--guidance with --global",
            ["directions", "--model", str(sd), "--images", str(images), "--global", "--guidance", "5"],
        ),
        (
            "ignored flag",
            "--guidance for an inverted image",
            ["directions", "--model", str(sd), "--image", "builtin:0", "--guidance", "5"],
        ),
        ("ignored flag", "--guidance on an unconditional model", ["sample", "--model", str(ddim), "--guidance", "5"]),
        (
            "ignored flag",
            "--scheduler-timeout without --scheduler",
            ["directions", "--images", str(images), "--global", "--scheduler-timeout", "3"],
        ),
        ("ignored flag", "svd --tol with --method exact", ["svd", "2 1; 1 3", "--method", "exact", "--tol", "1e-3"]),
        (
            "ignored flag",
            "transport --damp without lsqr",
            ["transport", "--from", "builtin:0", "--to", "builtin:1", "--damp", "0.5"],
        ),
        ("ignored flag", "video --list --quality high", ["video", "--list", "--quality", "high"]),
        (
            "scheduler",
            "a peer that accepts and stays silent, --scheduler-timeout 2",
            ["directions", "--images", str(images), "--global", "--scheduler", silent, "--scheduler-timeout", "2"],
        ),
        (
            "scheduler",
            "a peer that sends 0xff×8 (an exabyte length prefix)",
            ["directions", "--images", str(images), "--global", "--scheduler", garbage, "--scheduler-timeout", "2"],
        ),
        ("OS fault", "--out is a file", ["sample", "--out", str(tmp / "afile")]),
        ("OS fault", "--out under /proc", ["sample", "--out", "/proc/svdlens"]),
    ]
    if mounted:
        cases += [
            ("OS fault", "--out on a read-only file system", ["sample", "--out", str(ro / "o")]),
            (
                "OS fault",
                "disk full while writing (64 KB tmpfs)",
                ["sample", "--n", "32", "--steps", "2", "--out", str(full / "o")],
            ),
        ]
    cases += [
        ("memory", "sample --n 64 of a 256 px model, budget 1GB", ["sample", "--model", str(big), "--n", "64",
                                                                    "--steps", "1", "--max-memory", "1GB"]),
        ("memory", "sample --n 64 of a 256 px model, default budget", ["sample", "--model", str(big), "--n", "64",
                                                                        "--steps", "1"]),
    ]  # fmt: skip
    rows = []
    for i, (family, case, args) in enumerate(cases):
        if family_only is not None and family != family_only:
            continue
        out = tmp / f"out{i}"
        if "--out" not in args and args[0] not in ("svd", "video"):  # those write nothing here
            args = [*args, "--out", str(out)]
        row = {"family": family, "case": case, **_child([*args, "--quiet"], tmp, 900 if family == "memory" else 300)}
        written = Path(args[args.index("--out") + 1]) if "--out" in args else out
        row["wrote nothing"] = family == "memory" or not written.exists() or written == tmp / "afile"
        if written == full / "o":
            row["wrote nothing"] = list(full.iterdir()) == []
        row[f"within {FOLDER_SECONDS} s"] = family == "memory" or row["seconds"] < FOLDER_SECONDS
        if family == "scheduler":  # the timeout given, plus the command's own start
            row[f"within {FOLDER_SECONDS} s"] = row["seconds"] < 2 + FOLDER_SECONDS
        rows.append(row)
        print(row, flush=True)
    for where in (full, ro):
        subprocess.run(["umount", str(where)], capture_output=True)
    return rows


def round2_main(family: str | None = None) -> None:
    """Hardening round 2's table: bench/results/reliability-round2.md and .json."""
    from svdlens.diffusion._hspace import LOCAL_BASIS_DEFAULTS

    with tempfile.TemporaryDirectory() as tmp:
        rows = round2_rows(Path(tmp), family)
    if family is not None:  # the other families' rows as the last whole run measured them
        earlier = json.loads((Path(__file__).parent / "results" / "reliability-round2.json").read_text())["rows"]
        fresh = {row["case"]: row for row in rows}
        rows = [fresh.pop(row["case"], row) for row in earlier if row["family"] != family or row["case"] in fresh]
        rows += list(fresh.values())
    columns = ["family", "case", "exit code", "seconds", "peak RSS (GB)", "lines printed", "wrote nothing",
               f"within {FOLDER_SECONDS} s", "message"]  # fmt: skip
    notes = [
        "Each case is `svdlens ...` in a fresh process whose address space is capped at 4 GiB above its imports; "
        "seconds from the command's start, after the imports.",
        "Non-finite: tiny random diffusers folders with one layer set to 3e38, finite so that it loads, whose "
        "output overflows float32.",
        "OS faults: tmpfs mounts of 64 KB (as root); the rows are left out where mounting is not allowed.",
        f"Memory: a 256×256 random DDIM folder with 16/32 channels, one DDIM step; the default budget is "
        f"{LOCAL_BASIS_DEFAULTS['max_memory']}; peak RSS is the whole process's (about 0.5 GB is Python and torch).",
    ]
    path = write_results(
        "reliability-round2",
        "python bench/reliability.py --round2-only",
        {"Hardening round 2: each case refused in one line, fast, nothing written": markdown_table(rows, columns)},
        {"rows": rows, "target_seconds": FOLDER_SECONDS},
        notes,
    )
    print(path.read_text())


if __name__ == "__main__":
    main()

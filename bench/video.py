"""Benchmark: render time of every Manim video scene at low (480p15) and high (1080p60) quality.

Each render runs in its own child process (so one scene's memory or a stuck render cannot
affect the next, and a time limit can stop it), one at a time. The child times, separately,
the scene's numbers (the library: sl.svd, Eigenfaces, the built-in DDPM) and the whole render
(numbers, drawing and encoding), then reads the MP4 back with PyAV. One run per scene and
quality: a high-quality render takes minutes.

Side by side, the matplotlib preview of the same matrix scenes: ``sl.explain(A).save(folder)``,
which writes every figure (PNG) and animation (GIF) of the explain scenes.

High quality is rendered in the script's order until ``--budget`` seconds are spent; scenes
left over are listed as not run.

    python bench/video.py                 # low and high; writes bench/results/video.{md,json}
    python bench/video.py --budget 600    # at most ~10 minutes of high-quality renders
    python bench/video.py --quick         # low quality only (bench/results/video-quick.*)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, write_results

SCRIPT_MATRIX = [[0.4, 0.2], [1.0, 3.0]]


def child(name: str, quality: str, folder: str) -> None:
    """Render one scene; print one line of JSON with the timings and what the MP4 holds."""
    import warnings

    warnings.simplefilter("ignore")
    import av

    import svdlens.video as sv
    from svdlens.video._diffusion import builtin_pipeline

    numbers = {
        "projection": sv.projection_numbers,
        "inputs-with-inputs": sv.inputs_with_inputs_numbers,
        "eigenvectors": sv.eigenvector_numbers,
        "rotate-scale-rotate": sv.rotate_scale_rotate_numbers,
        "u-from-v": sv.u_from_v_numbers,
        "puzzle": sv.puzzle_numbers,
        "jacobian-directions": sv.jacobian_directions_numbers,
        "generated-image": sv.generated_image_numbers,
    }[name]
    load_s = 0.0
    if name in ("jacobian-directions", "generated-image"):
        t0 = time.perf_counter()
        builtin_pipeline()  # loaded once per process, as a render of all scenes does
        load_s = time.perf_counter() - t0
    r = sv.render_scene(name, folder, quality)  # as a user runs it: the numbers computed cold, then drawn
    t0 = time.perf_counter()
    numbers()  # again, warm (torch's first calls in a process are slower)
    numbers_s = time.perf_counter() - t0
    with av.open(str(r.path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        record = {
            "scene": name,
            "quality": quality,
            "model_load_s": load_s,
            "numbers_s": numbers_s,
            "render_s": r.seconds,
            "video_s": float(stream.duration * stream.time_base),
            "frames": frames,
            "size": f"{stream.codec_context.width}×{stream.codec_context.height}",
            "fps": int(stream.base_rate),
            "mp4_kb": r.path.stat().st_size / 1024,
        }
    print(json.dumps(record), flush=True)


def run_child(name: str, quality: str, folder: Path, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", name, quality, str(folder)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"scene": name, "quality": quality, "status": f"stopped at the {timeout:.0f} s limit"}
    if out.returncode != 0:
        return {"scene": name, "quality": quality, "status": "failed: " + out.stderr.strip().splitlines()[-1]}
    record = json.loads(out.stdout.strip().splitlines()[-1])
    record["status"] = "ok"
    return record


def explain_preview(folder: Path) -> dict:
    """The matplotlib preview of the matrix scenes, in a child process like the renders."""
    code = (
        "import json, time, warnings; warnings.simplefilter('ignore')\n"
        "import numpy as np, svdlens as sl\n"
        "t0 = time.perf_counter()\n"
        f"paths = sl.explain(np.array({SCRIPT_MATRIX}), vector=[2, 1]).save({str(folder)!r})\n"
        "print(json.dumps({'seconds': time.perf_counter() - t0,\n"
        "                  'gifs': sum(str(p).endswith('.gif') for p in paths),\n"
        "                  'pngs': sum(str(p).endswith('.png') for p in paths)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return {"status": "failed: " + out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="low quality only")
    ap.add_argument("--budget", type=float, default=900.0, help="seconds for the high-quality renders (default 900)")
    ap.add_argument("--child", nargs=3, metavar=("SCENE", "QUALITY", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)

    import svdlens.video as sv

    names = list(sv.SCENES)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in names:
            rows.append(run_child(name, "low", tmp / "low", timeout=600))
            print(rows[-1], flush=True)
        skipped = []
        if not args.quick:
            start = time.perf_counter()
            for name in names:
                left = args.budget - (time.perf_counter() - start)
                if left < 30:
                    skipped.append(name)
                    rows.append({"scene": name, "quality": "high", "status": "not run (over the budget)"})
                    continue
                rows.append(run_child(name, "high", tmp / "high", timeout=left))
                print(rows[-1], flush=True)
                if rows[-1]["status"] != "ok":
                    skipped.append(name)
        preview = explain_preview(tmp / "explain")

    for r in rows:
        if r.get("status") == "ok":
            r["render ÷ video"] = r["render_s"] / r["video_s"]
    columns = [
        "scene",
        "quality",
        "size",
        "fps",
        "video_s",
        "frames",
        "numbers_s",
        "render_s",
        "render ÷ video",
        "mp4_kb",
        "status",
    ]
    done = [r for r in rows if r.get("status") == "ok"]
    totals = []
    for q in ("low", "high"):
        these = [r for r in done if r["quality"] == q]
        if these:
            totals.append(
                {
                    "quality": q,
                    "scenes": len(these),
                    "video_s": sum(r["video_s"] for r in these),
                    "render_s": sum(r["render_s"] for r in these),
                    "render ÷ video": sum(r["render_s"] for r in these) / sum(r["video_s"] for r in these),
                }
            )
    matrix_low = [r for r in done if r["quality"] == "low" and r["scene"] in sv.MATRIX_SCENES]
    side = [
        {
            "what": f"Manim MP4s, the {len(matrix_low)} matrix scenes at low quality (480p15)",
            "seconds": sum(r["render_s"] for r in matrix_low),
        },
        {
            "what": "matplotlib preview: sl.explain(A).save(folder), every figure (PNG) and animation (GIF)",
            "seconds": preview.get("seconds"),
            "files": f"{preview.get('pngs', '?')} PNG, {preview.get('gifs', '?')} GIF",
        },
    ]
    notes = [
        "One run per scene and quality, each in a child process; render_s is the whole render (numbers, "
        "drawing, encoding), numbers_s the scene's numbers alone, computed again after the render (warm). "
        "The built-in model's load, once per process, is in neither.",
        "render ÷ video: seconds of rendering per second of video.",
        "The machine is shared: its second core was often busy during this run, so timings vary from run to run.",
    ]
    load = [r["model_load_s"] for r in done if r.get("model_load_s")]
    if load:
        notes.append(f"Loading the built-in DDPM took {min(load):.1f}–{max(load):.1f} s per process.")
    if skipped:
        notes.append(f"High quality not rendered within the budget of {args.budget:.0f} s: {', '.join(skipped)}.")
    name = "video-quick" if args.quick else "video"
    command = "python bench/video.py" + (" --quick" if args.quick else f" --budget {args.budget:.0f}")
    out = write_results(
        name,
        command,
        {
            "Render time per scene": markdown_table(rows, columns),
            "Totals": markdown_table(totals, ["quality", "scenes", "video_s", "render_s", "render ÷ video"]),
            "Side by side: the matplotlib preview of the matrix scenes": markdown_table(
                side, ["what", "seconds", "files"]
            ),
        },
        {"rows": rows, "totals": totals, "side_by_side": side, "budget_s": args.budget},
        notes,
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

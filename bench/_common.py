"""Shared by the benchmarks: best-of timing, tables and atomic writing of results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def products(basis) -> int:
    """Jacobian products a local basis took: JVPs plus VJPs."""
    return int(basis.n_jvp + basis.n_vjp)


def best_time(fn, repeat: int = 3):
    """Run ``fn`` ``repeat`` times; return (its last result, the shortest wall time in s)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def machine() -> dict:
    import numpy
    import scipy
    import torch

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def _atomic_write(path: Path, text: str) -> None:
    """Whole or nothing, with the umask's permissions (svdlens's own atomic write)."""
    from svdlens._atomic import atomic_write

    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def fmt(x) -> str:
    if hasattr(x, "item") and getattr(x, "ndim", None) == 0:
        x = x.item()  # a numpy scalar (np.bool_, np.float64) reads as the Python value
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.1e}"
    return str(x)


def _plain(x):
    """numpy scalars and arrays as JSON's own types."""
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON: {type(x).__name__}")


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")  # a bare pipe would split the cell in two

    lines = ["| " + " | ".join(map(cell, columns)) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(cell(fmt(row.get(c))) for c in columns) + " |")
    return "\n".join(lines)


def write_results(name: str, command: str, tables: dict[str, str], records: dict, notes: list[str]) -> Path:
    """Write ``results/NAME.md`` and ``results/NAME.json``; return the Markdown path."""
    stamp = time.strftime("%Y-%m-%d %H:%M")
    md = [f"# Benchmark `{name}`", "", f"Command: `{command}` ({stamp})", ""]
    info = machine()
    md.append("Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    md.append("")
    for title, table in tables.items():
        md += [f"## {title}", "", table, ""]
    if notes:
        md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    out = RESULTS / f"{name}.md"
    _atomic_write(out, "\n".join(md))
    _atomic_write(
        RESULTS / f"{name}.json",
        json.dumps({"command": command, "date": stamp, "machine": info, **records}, indent=2, default=_plain),
    )
    return out

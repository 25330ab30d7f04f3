"""The tutorial notebooks in examples/ run top to bottom, offline, as notebooks and as scripts.

Each is a jupytext "percent" script. ``make docs`` (and so ``make test``, before pytest)
executes every one as a notebook in a Jupyter kernel, and fails on any error. Here the
plain-script path is checked on the first notebook: a fresh interpreter, an empty working
folder, one thread, as a reader who runs ``python examples/NAME.py`` would; running all five
again would repeat the docs build's work (about 45 s of CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = [
    "01_svd_first_principles.py",
    "02_eigenfaces.py",
    "03_jacobian_of_any_model.py",
    "04_diffusion_method.py",
    "05_loading_a_diffusers_folder.py",
]


def test_every_notebook_is_listed_and_in_percent_format():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == NOTEBOOKS
    for name in NOTEBOOKS:
        text = (EXAMPLES / name).read_text(encoding="utf-8")
        assert "# %% [markdown]" in text, name
        assert "\n# %%\n" in text, name
        assert "plt.show" not in text and "from tests" not in text and "import tests" not in text, name


@pytest.mark.parametrize("name", NOTEBOOKS[:1])
def test_notebook_runs_as_a_script(name, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert list(tmp_path.iterdir()) == [], f"{name} wrote into its working folder"

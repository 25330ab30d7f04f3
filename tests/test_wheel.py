"""The built-in models and the factor oracle load offline from a non-editable wheel install.

The wheel is built from this checkout (no build isolation, nothing fetched) and installed
without dependencies into a virtual environment that sees this interpreter's packages (torch,
diffusers...). The check then runs there, from an empty folder, and proves it used the wheel's
copy of svdlens, not this checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import json, sys
import numpy as np
import svdlens as sl
from svdlens.faces import world
assert "site-packages" in sl.__file__ and sys.argv[1] not in sl.__file__, sl.__file__
shapes = {}
for name in ("builtin", "builtin-lfw"):
    pipe = sl.diffusion.load(name)
    shapes[name] = list(pipe.sample(n=1, seed=0, steps=2).shape)
r2 = world.oracle().score(world.render(world.sample_factors(64, seed=1)), world.sample_factors(64, seed=1))
print(json.dumps({"file": sl.__file__, "shapes": shapes, "oracle_r2_min": float(np.min(r2))}))
"""


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, **kwargs)


def test_builtin_models_load_from_a_wheel(tmp_path):
    wheels = tmp_path / "wheels"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)]
    )
    if built.returncode != 0:
        pytest.fail(f"the wheel did not build:\n{built.stderr[-3000:]}")
    (wheel,) = wheels.glob("svdlens-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    installed = _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)])
    assert installed.returncode == 0, installed.stderr[-3000:]
    work = tmp_path / "empty"
    work.mkdir()
    proc = _run([str(python), "-c", CHECK, str(ROOT / "src")], cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = __import__("json").loads(proc.stdout.strip().splitlines()[-1])
    assert str(env_dir) in result["file"]
    assert result["shapes"] == {"builtin": [1, 64, 64], "builtin-lfw": [1, 32, 32]}
    assert result["oracle_r2_min"] > 0.5

"""Hardening of the library: wrong answers refused, files and global state left as they were."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from PIL import Image

import svdlens as sl
from svdlens.exceptions import InputFileError, ModelLoadError, NotFittedError, SvdlensError


def test_complex_linear_operator_is_refused():
    A = np.array([[1 + 1j, 0], [0, 2]])
    op = spla.aslinearoperator(A)
    with pytest.raises(SvdlensError, match="complex LinearOperator"):
        sl.svd(op, 1)


def test_power_method_in_float32_is_orthogonal():
    res = sl.svd(np.ones((20, 20), np.float32), 20, method="power")
    reference = np.linalg.svd(np.ones((20, 20), np.float32))[2]
    ours = np.abs(res.Vt @ res.Vt.T - np.eye(20)).max()
    theirs = np.abs(reference @ reference.T - np.eye(20)).max()
    assert ours <= 2 * max(theirs, np.finfo(np.float32).eps), (ours, theirs)
    assert np.abs(res.U.T @ res.U - np.eye(20)).max() <= 2 * max(theirs, np.finfo(np.float32).eps)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("prediction_type", "flow"),
        ("timestep_spacing", "karras"),
        ("use_karras_sigmas", True),
    ],
)
def test_scheduler_settings_the_pipeline_does_not_honour_are_refused(tmp_path, key, value):
    """diffusers' DDIM honours every prediction type, clipping and thresholding (tests/test_real_models.py);
    what it cannot follow is refused by name rather than sampled wrongly."""
    from diffusers import DDIMScheduler, UNet2DModel

    unet = UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        layers_per_block=1,
        block_out_channels=(8, 8),
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    )
    unet.save_pretrained(tmp_path, safe_serialization=True)
    DDIMScheduler(num_train_timesteps=100).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "scheduler_config.json").read_text())
    (tmp_path / "scheduler_config.json").write_text(json.dumps({**config, key: value}))
    with pytest.raises(ModelLoadError, match=f"{key}={value!r}"):
        sl.diffusion.load(tmp_path)


def test_unknown_scene_and_unfitted_estimator_errors():
    ex = sl.explain([[2.0, 1.0], [1.0, 3.0]], only=["projection"])
    with pytest.raises(KeyError, match="no scene 'nope'"):
        ex["nope"]
    with pytest.raises(NotFittedError, match="fit"):
        sl.Eigenfaces().distance_from_face_space(np.zeros((1, 4, 4)))


def test_training_never_defaults_to_the_shipped_weights():
    default = inspect.signature(sl.diffusion.train_faces).parameters["out"].default
    assert Path(default).resolve() != sl.diffusion.BUILTIN_DIR.resolve()


def test_importing_svdlens_leaves_the_matplotlib_backend_alone():
    code = textwrap.dedent("""
        import matplotlib
        matplotlib.use("svg")
        import svdlens, svdlens._plotting, svdlens.scenes
        svdlens.explain([[1.0, 2.0], [0.0, 1.0]]).save(__import__("tempfile").mkdtemp(), animations=False)
        print(matplotlib.get_backend())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "svg"


@pytest.mark.skipif(not __import__("shutil").which("ffmpeg"), reason="ffmpeg is not installed (make test installs it)")
def test_explain_save_writes_real_mp4s(tmp_path):
    written = sl.explain([[2.0, 1.0], [1.0, 3.0]], only=["eigenvectors"]).save(tmp_path)
    mp4 = [p for p in written if p.suffix == ".mp4"]
    assert mp4 and mp4[0].read_bytes()[4:8] == b"ftyp"  # an MP4 container, not a GIF named .mp4


def test_outputs_follow_the_umask(tmp_path):
    from svdlens._atomic import staged_output

    old = os.umask(0o022)
    try:
        with staged_output(tmp_path / "o") as stage:
            (stage / "a.txt").write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "o" / "a.txt").stat().st_mode & 0o777 == 0o644


def test_sigterm_leaves_no_staging_folder_and_no_output(tmp_path):
    code = textwrap.dedent(f"""
        import time
        from svdlens._atomic import staged_output
        with staged_output({str(tmp_path / "o")!r}) as stage:
            (stage / "half.txt").write_text("half")
            print("ready", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    time.sleep(0.1)
    assert not list(tmp_path.glob(".svdlens-*")) and not (tmp_path / "o").exists()


def test_decompression_bombs_are_clear_errors(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("L", (400, 400)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's own limit, far below the image
    with pytest.raises(InputFileError, match="too large to decode safely"):
        sl.faces.read_image(path, max_pixels=10**9)


def test_lying_npz_header_is_refused_before_allocating(tmp_path):
    import zipfile

    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("arr_0.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
        f.write(np.zeros(2).tobytes())
    with pytest.raises(InputFileError, match="declares an array"):
        sl.faces.load(path)

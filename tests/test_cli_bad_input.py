"""Hostile and careless input on the command line, one table.

Each case: the command line (``{d}`` is a scratch folder holding the files below), the exit
code, words the message must hold, and the files that must be unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from svdlens.cli import app

runner = CliRunner()
FAST = ["--steps", "2", "--quiet"]


def _npy_with_lying_header(path: Path) -> None:
    """A 160-byte .npy file whose header claims 10⁶×10⁶ float64 (8 TB)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (1000000, 1000000)})
        f.write(np.zeros(4).tobytes())


@pytest.fixture
def scratch(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    face = (np.random.default_rng(0).random((25, 25)) * 255).astype(np.uint8)
    for name in ("edit.png", "start.png", "directions.png", "face.png"):
        Image.fromarray(face).save(d / name)
    (d / "explanation.md").write_text("my own notes\n")
    (d / "summary.json").write_text('{"mine": true}\n')
    (d / "a_file").write_text("not a folder\n")
    faces = d / "faces"
    faces.mkdir()
    for i in range(6):
        Image.fromarray(np.roll(face, i)).save(faces / f"f{i}.png")
    Image.fromarray(face).save(faces / "eigenfaces.png")  # named like an output
    Image.new("L", (5000, 5000)).save(d / "huge.png")  # 25 M pixels: over the default cap, a small file
    _npy_with_lying_header(d / "lie.npy")
    (d / "m.py").write_text(
        "import torch\n"
        "def boom():\n"
        "    raise RuntimeError('factory failed')\n"
        "def leave():\n"
        "    raise SystemExit(0)\n"
        "def image_net():\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(625, 3), torch.nn.Tanh())\n"
        "def build():\n"
        "    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())\n"
    )
    (d / "bad.py").write_text("def build(:\n    pass\n")
    model = d / "model"
    model.mkdir()
    (model / "config.json").write_text("{ not json")
    (model / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    np.save(d / "x.npy", np.zeros(4))
    return d


def _digests(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()
    }


BIG = "; ".join([" ".join(["1"] * 100)] * 100)
LONG = "; ".join([" ".join([f"{i + j + 0.5}" for j in range(8)]) for i in range(8)])  # 8×8, over 255 characters

CASES = [
    # Inputs are never overwritten, and a refusal moves nothing in.
    (
        "edit onto its input",
        ["edit", "--image", "{d}/edit.png", "--out", "{d}", *FAST],
        2,
        ["refusing to overwrite the input"],
    ),
    (
        "directions onto its input",
        ["directions", "--image", "{d}/start.png", "-k", "2", "--out", "{d}", *FAST],
        2,
        ["refusing to overwrite the input"],
    ),
    (
        "eigenfaces into its image folder",
        ["eigenfaces", "--images", "{d}/faces", "-k", "3", "--out", "{d}/faces", "--quiet"],
        2,
        ["refusing to overwrite the input"],
    ),
    (
        "eigenfaces into its image folder, forced",
        ["eigenfaces", "--images", "{d}/faces", "-k", "3", "--out", "{d}/faces", "--force"],
        2,
        ["refusing to overwrite the input"],
    ),
    (
        "jacobian onto its input",
        [
            "jacobian",
            "--model",
            "{d}/m.py:image_net",
            "--layer",
            "2",
            "--input",
            "{d}/directions.png",
            "-k",
            "2",
            "--out",
            "{d}",
        ],
        2,
        ["refusing to overwrite the input"],
    ),
    # Files svdlens did not write are kept.
    (
        "explain over a user's file",
        ["explain", "2 1; 1 3", "--only", "projection", "--out", "{d}"],
        2,
        ["explanation.md exists and svdlens did not write it"],
    ),
    ("--out is a file", ["explain", "2 1; 1 3", "--only", "projection", "--out", "{d}/a_file"], 2, ["is a file"]),
    # Bounded work.
    (
        "100 000 strengths",
        ["edit", "--image", "builtin:3", "--strength=0:1:100000", "--out", "{d}/o", *FAST],
        2,
        ["give 1 to 64"],
    ),
    ("NaN strength", ["edit", "--image", "builtin:3", "--strength", "nan", "--out", "{d}/o", *FAST], 2, ["finite"]),
    (
        "infinite strength",
        ["edit", "--image", "builtin:3", "--strength", "inf", "--out", "{d}/o", *FAST],
        2,
        ["finite"],
    ),
    (
        "overflowing strength",
        ["edit", "--image", "builtin:3", "--strength", "1e400", "--out", "{d}/o", *FAST],
        2,
        ["finite"],
    ),
    (
        "zero strengths",
        ["edit", "--image", "builtin:3", "--strength=3:-3:0", "--out", "{d}/o", *FAST],
        2,
        ["give 1 to 64"],
    ),
    (
        "negative guidance",
        ["edit", "--image", "builtin:3", "--guidance", "-5", "--out", "{d}/o", *FAST],
        2,
        ["--guidance"],
    ),
    (
        "steps beyond the schedule",
        ["directions", "--image", "builtin:3", "--steps", "5000", "--out", "{d}/o"],
        2,
        ["--steps"],
    ),
    (
        "k beyond the cap",
        ["directions", "--image", "builtin:3", "-k", "100000", "--out", "{d}/o", *FAST],
        2,
        ["-k must be"],
    ),
    (
        "an image over the pixel cap",
        ["directions", "--image", "{d}/huge.png", "--out", "{d}/o", *FAST],
        2,
        ["pixels, more than the limit"],
    ),
    (
        "the pixel cap in eigenfaces",
        ["--max-pixels", "100", "eigenfaces", "--images", "{d}/faces", "--out", "{d}/o", "--quiet"],
        2,
        ["no readable images"],
    ),
    ("a lying .npy header (svd)", ["svd", "{d}/lie.npy"], 2, ["declares an array of shape (1000000, 1000000)"]),
    (
        "a lying .npy header (jacobian)",
        ["jacobian", "--model", "{d}/m.py:build", "--layer", "1", "--input", "{d}/lie.npy", "--out", "{d}/o"],
        2,
        ["declares an array"],
    ),
    (
        "a lying .npy header (out of core)",
        ["eigenfaces", "--images", "{d}/lie.npy", "--out-of-core", "--out", "{d}/o", "--quiet"],
        2,
        ["declares an array"],
    ),
    # Clear errors, not tracebacks.
    ("explain a 100×100 matrix", ["explain", BIG], 2, ["up to 32×32"]),
    ("explain an entry of 1e300", ["explain", "1e300 1; 2 3"], 2, ["Rescale A"]),
    (
        "a factory that raises",
        ["jacobian", "--model", "{d}/m.py:boom", "--layer", "1", "--input", "{d}/x.npy", "--out", "{d}/o"],
        2,
        ["factory failed", "m.py:3"],
    ),
    (
        "a factory that exits",
        ["jacobian", "--model", "{d}/m.py:leave", "--layer", "1", "--input", "{d}/x.npy", "--out", "{d}/o"],
        2,
        ["SystemExit(0)", "m.py:5"],
    ),
    (
        "a model file with a syntax error",
        ["jacobian", "--model", "{d}/bad.py:build", "--layer", "1", "--input", "{d}/x.npy", "--out", "{d}/o"],
        2,
        ["SyntaxError", "bad.py:1"],
    ),
    ("builtin:-1", ["directions", "--image", "builtin:-1", "--out", "{d}/o", *FAST], 2, ["builtin:0 to builtin:99"]),
    (
        "a config.json that is not JSON",
        ["directions", "--model", "{d}/model", "--seed", "1", "--out", "{d}/o", *FAST],
        2,
        ["is not valid JSON"],
    ),
    ("a benchmark outside bench/", ["bench", "../../x"], 2, ["no benchmark"]),
    (
        "a closed scheduler",
        [
            "eigenfaces",
            "--images",
            "{d}/faces",
            "-k",
            "3",
            "--out-of-core",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--scheduler-timeout",
            "1",
            "--out",
            "{d}/o",
            "--quiet",
        ],
        2,
        ["no dask scheduler answered"],
    ),
    ("training for no steps", ["train-faces", "--steps", "0", "--out", "{d}/o"], 2, ["--steps"]),
    ("app on port 70000", ["app", "--port", "70000"], 2, ["--port must be 1 to 65535", "got 70000"]),
    ("app on a negative port", ["app", "--port", "-1"], 2, ["--port must be 1 to 65535"]),
    ("app on a host that is no address", ["app", "--host", "not a host"], 2, ["--host must be", "'not a host'"]),
    ("app on an IPv4 address out of range", ["app", "--host", "999.1.1.1"], 2, ["--host must be"]),
    # hardening round 2: ignored flags refused, the output folder checked before any work
    (
        "a negative prompt for an edit without guidance",
        ["edit", "--image", "{d}/face.png", "--negative-prompt", "x", "--out", "{d}/o", *FAST],
        2,
        ["--negative-prompt has no effect without guidance above 1"],
    ),
    (
        "--scheduler-timeout without --scheduler",
        ["directions", "--images", "{d}", "--global", "--scheduler-timeout", "3", "--out", "{d}/o", *FAST],
        2,
        ["--scheduler-timeout bounds the wait for --scheduler"],
    ),
    ("svd --tol with an exact method", ["svd", "2 1; 1 3", "--method", "exact", "--tol", "1e-3"], 2, ["--tol applies"]),
    ("explain --format without --out", ["explain", "2 1; 1 3", "--format", "html"], 2, ["give --out DIR"]),
    (
        "transport --damp without lsqr",
        ["transport", "--from", "builtin:0", "--to", "builtin:1", "--damp", "0.5", "--out", "{d}/o", *FAST],
        2,
        ["--damp is the damping of --method lsqr"],
    ),
    ("sample --eta above 1", ["sample", "--eta", "1.5", "--out", "{d}/o", *FAST], 2, ["--eta must be in [0, 1]"]),
    ("sample --eta nan", ["sample", "--eta", "nan", "--out", "{d}/o", *FAST], 2, ["--eta must be in [0, 1]; got nan"]),
    ("sample --out a file", ["sample", "--out", "{d}/a_file", *FAST], 2, ["is a file; give a folder"]),
    ("sample --out under a file", ["sample", "--out", "{d}/a_file/o", *FAST], 2, ["is not a folder"]),
    ("sample --out under /proc", ["sample", "--out", "/proc/svdlens-o", *FAST], 2, ["cannot write to the output"]),
    # svdlens evolution
    (
        "evolution with one t",
        ["evolution", "--image", "builtin:3", "--t", "0.5", "--out", "{d}/o", *FAST],
        2,
        ["--t needs 2 to 32"],
    ),
    (
        "evolution with t above 1",
        ["evolution", "--image", "builtin:3", "--t", "0.5,1.5", "--out", "{d}/o", *FAST],
        2,
        ["--t must be t's in (0, 1]", "1.5"],
    ),
    (
        "evolution with t = 0",
        ["evolution", "--image", "builtin:3", "--t", "0.5,0", "--out", "{d}/o", *FAST],
        2,
        ["--t must be t's in (0, 1]"],
    ),
    (
        "evolution with t not a number",
        ["evolution", "--image", "builtin:3", "--t", "0.5,x", "--out", "{d}/o", *FAST],
        2,
        ["--t is a list of t's"],
    ),
    (
        "evolution with a t twice",
        ["evolution", "--image", "builtin:3", "--t", "0.5,0.5", "--out", "{d}/o", *FAST],
        2,
        ["--t lists a t twice"],
    ),
    ("evolution with no images", ["evolution", "--out", "{d}/o", *FAST], 2, ["give --image builtin:N", "--images DIR"]),
    (
        "evolution with --image and --images",
        ["evolution", "--image", "builtin:3", "--images", "{d}/faces", "--out", "{d}/o", *FAST],
        2,
        ["not both"],
    ),
    (
        "evolution with k = 0",
        ["evolution", "--image", "builtin:3", "-k", "0", "--out", "{d}/o", *FAST],
        2,
        ["-k must be"],
    ),
    (
        "evolution with a huge k",
        ["evolution", "--image", "builtin:3", "-k", "100000", "--out", "{d}/o", *FAST],
        2,
        ["-k must be", "≤ 512"],
    ),
    (
        "evolution with --steps 0",
        ["evolution", "--image", "builtin:3", "--steps", "0", "--out", "{d}/o", "--quiet"],
        2,
        ["--steps must be"],
    ),
    (
        "evolution with --guidance",
        ["evolution", "--image", "builtin:3", "--guidance", "2", "--out", "{d}/o", *FAST],
        2,
        ["--guidance has no effect here"],
    ),
    (
        "evolution with a negative prompt",
        ["evolution", "--image", "builtin:3", "--negative-prompt", "x", "--out", "{d}/o", *FAST],
        2,
        ["--negative-prompt has no effect"],
    ),
    (
        "evolution with --tol 0",
        ["evolution", "--image", "builtin:3", "--tol", "0", "--out", "{d}/o", *FAST],
        2,
        ["--tol must be"],
    ),
    (
        "evolution with images of two sizes",
        ["evolution", "--image", "builtin:3", "--image", "world:0", "--out", "{d}/o", *FAST],
        2,
        ["--image: the images must share one size"],
    ),
    (
        "evolution with 17 images",
        ["evolution", *["--image", "builtin:1"] * 17, "--out", "{d}/o", *FAST],
        2,
        ["the number of --image must be"],
    ),
    (
        "evolution with a missing folder",
        ["evolution", "--images", "{d}/nothing", "--out", "{d}/o", *FAST],
        2,
        ["no such file or folder"],
    ),
    (
        "evolution onto its input folder",
        ["evolution", "--images", "{d}/faces", "--t", "0.6,0.5", "-k", "1", "--out", "{d}/faces", *FAST],
        2,
        ["refusing to overwrite the input"],
    ),
]


@pytest.mark.parametrize(("args", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error_and_keeps_files(scratch, args, code, words):
    before = _digests(scratch)
    res = runner.invoke(app, [a.replace("{d}", str(scratch)) for a in args])
    flat = " ".join(res.output.split())
    assert res.exit_code == code, flat
    assert "Traceback" not in res.output and not isinstance(res.exception, (AttributeError, IndexError, OSError))
    squeezed = "".join(flat.split())  # rich folds a long path anywhere, so compare without spaces
    for w in words:
        assert "".join(w.split()) in squeezed, flat
    after = _digests(scratch)
    assert {k: v for k, v in after.items() if k in before} == before  # every file that was there is unchanged
    assert not [p for p in scratch.parent.rglob(".svdlens-*") if p.name != ".svdlens-manifest.json"]
    assert not (scratch / "o").exists()  # a failed run leaves no empty output folder


def test_matrix_text_longer_than_a_file_name(tmp_path):
    res = runner.invoke(app, ["svd", LONG, "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)["S"]) == 8


@pytest.mark.parametrize("text", ["3", "1 2 3", "1; 2; 3"])
def test_explain_one_row_or_column(tmp_path, text):
    res = runner.invoke(app, ["explain", text, "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o" / "explanation.md").exists()


def test_reruns_replace_svdlens_files_and_force_replaces_the_users(scratch):
    out = scratch / "again"
    for _ in range(2):
        assert runner.invoke(app, ["explain", "2 1; 1 3", "--only", "projection", "--out", str(out)]).exit_code == 0
    res = runner.invoke(app, ["explain", "2 1; 1 3", "--only", "projection", "--out", str(scratch), "--force"])
    assert res.exit_code == 0, res.output
    assert (scratch / "explanation.md").read_text() != "my own notes\n"
    assert (scratch / "summary.json").read_text() == '{"mine": true}\n'  # not an output of explain: kept


def test_the_app_without_its_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gradio", None)
    res = runner.invoke(app, ["app"])
    assert res.exit_code == 2 and 'pip install "svdlens[app]"' in " ".join(res.output.split())

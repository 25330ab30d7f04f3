"""A model folder never loads into silent wrong output: every broken folder is refused, fast.

Each case breaks a copy of a tiny random diffusers folder (``tests/tiny_pipelines.py``) in one
way: a tensor missing, unexpected, of another shape or NaN; a config number out of range; a
config file that is a FIFO, a link to ``/dev/zero`` or nested 100 deep; a malformed or missing
tokenizer file; components that do not fit. Each must give a one-line ``SvdlensError`` that
says what to do, within 10 s, from ``sl.diffusion.load`` and from ``svdlens sample --model``
(exit 2, one line, nothing written).

All the cases run in one child process with its address space capped (``RLIMIT_AS``, 3 GiB
above what the imports took) and a wall-clock timeout, so that a case that would allocate
gigabytes fails with ``MemoryError`` and one that would hang (the FIFO) fails on the timeout,
naming the case, instead of taking the machine down with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import svdlens as sl
from svdlens.exceptions import InvalidParameterError, ModelLoadError, SvdlensWarning
from tiny_pipelines import (
    PROMPT_LENGTH,
    broken_copy,
    edit_config,
    edit_weights,
    hub_snapshot,
    tiny_ddim,
    tiny_stable_diffusion,
    write_vocab_and_merges,
)

UNET = "unet/diffusion_pytorch_model.safetensors"
VAE = "vae/diffusion_pytorch_model.safetensors"
TEXT = "text_encoder/model.safetensors"
SECONDS = 10  # the target: every error within 10 s
HEADROOM = 3 * 2**30  # address space the child may add to what its imports took


def _drop(tensors, key):
    del tensors[key]


def _extra(tensors, key):
    tensors["extra_layer.weight"] = torch.zeros(3)


def _reshape(tensors, key):
    tensors[key] = torch.zeros(*(s + 1 for s in tensors[key].shape))


def _nan(tensors, key):
    tensors[key] = tensors[key].clone()
    tensors[key].view(-1)[0] = float("nan")


def _lying_header(path: Path) -> None:
    """A safetensors file whose header claims a 100000×100000 float32 tensor (40 GB) in 16 bytes of data."""
    header = json.dumps(
        {"conv_in.weight": {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 4 * 10**10]}}
    )
    path.write_bytes(len(header).to_bytes(8, "little") + header.encode() + bytes(16))


def _replace(path: Path, make) -> None:
    path.unlink()
    make(path)


def _nested(depth: int):
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _only_vocab(folder: Path) -> None:
    """The tokenizer as SD 1.5 ships it (vocab.json and merges.txt, no tokenizer.json), then merges.txt lost."""
    tok = folder / "tokenizer"
    (tok / "tokenizer.json").unlink()
    write_vocab_and_merges(tok)
    (tok / "merges.txt").unlink()


# id -> (folder to break, how, words the message must hold: what is wrong and what to do)
CASES = {
    "unet tensor missing": ("sd", lambda d: edit_weights(d / UNET, _drop), ["unet's weights", "missing", "strict=False"]),
    "vae tensor missing": ("sd", lambda d: edit_weights(d / VAE, _drop), ["vae's weights", "missing", "replace the weights"]),
    "text encoder tensor missing": (
        "sd", lambda d: edit_weights(d / TEXT, _drop), ["text_encoder's weights", "missing", "strict=False"],
    ),
    "unexpected tensor": (
        "sd", lambda d: edit_weights(d / UNET, _extra), ["the model does not have (extra_layer.weight)", "strict=False"],
    ),
    "tensor of another shape": ("sd", lambda d: edit_weights(d / VAE, _reshape), ["another shape", "replace the weights"]),
    "NaN weights": ("sd", lambda d: edit_weights(d / TEXT, _nan), ["NaN or infinite", "replace them"]),
    "lying safetensors header": ("ddim", lambda d: _lying_header(d / UNET), ["(100000, 100000)", "replace it"]),
    "VAE scaling_factor 0": (
        "sd", lambda d: edit_config(d / "vae/config.json", scaling_factor=0), ["scaling_factor must be a positive", "fix"],
    ),
    "NaN beta_end": (
        "ddim", lambda d: edit_config(d / "scheduler/scheduler_config.json", beta_end=float("nan")), ["beta_end", "nan"],
    ),
    "decreasing betas": (
        "ddim",
        lambda d: edit_config(d / "scheduler/scheduler_config.json", beta_start=0.02, beta_end=0.0001),
        ["beta_start (0.02) must be below beta_end (0.0001)", "fix"],
    ),
    "num_train_timesteps 1e8": (
        "ddim",
        lambda d: edit_config(d / "scheduler/scheduler_config.json", num_train_timesteps=10**8),
        ["num_train_timesteps must be a positive whole number ≤ 10000; got 100000000"],
    ),
    "sample_size 1e6": (
        "ddim", lambda d: edit_config(d / "unet/config.json", sample_size=10**6), ["sample_size must be", "≤ 4096"],
    ),
    "a word where a number belongs": (
        "sd", lambda d: edit_config(d / "unet/config.json", layers_per_block="two"), ["layers_per_block must be"],
    ),
    "config a link to /dev/zero": (
        "ddim", lambda d: _replace(d / "unet/config.json", lambda p: p.symlink_to("/dev/zero")),
        ["a link to /dev/zero", "character device", "replace it"],
    ),
    "config a FIFO": ("ddim", lambda d: _replace(d / "unet/config.json", os.mkfifo), ["FIFO", "not a regular file"]),
    "JSON nested 100 deep": (
        "ddim", lambda d: edit_config(d / "unet/config.json", notes=_nested(100)), ["nests lists and objects more than 32"],
    ),
    "a list where _class_name belongs": (
        "sd", lambda d: edit_config(d / "model_index.json", _class_name=["StableDiffusionPipeline"]),
        ["_class_name must be a class name (a string), not a list"],
    ),
    "merges.txt missing": ("sd", _only_vocab, ["has no merges.txt", "copy them"]),
    "tokenizer longer than the text encoder": (
        "sd", lambda d: edit_config(d / "tokenizer/tokenizer_config.json", model_max_length=77),
        [f"pads prompts to 77 tokens, but the text encoder has {PROMPT_LENGTH} positions"],
    ),
    "text encoder width not the cross-attention's": (
        "sd", lambda d: edit_config(d / "text_encoder/config.json", hidden_size=48),
        ["hidden_size=48", "cross_attention_dim=32", "use a text encoder of that width"],
    ),
}  # fmt: skip


def _child(cases: list[dict], warm: str) -> None:
    """Run in the child: every case through load() and the CLI, one JSON line each, memory capped.

    ``warm`` (an intact folder) is loaded first, so that every import is made before the cap
    and the clock: the 10 s are those of the load, not of Python's start.
    """
    import resource

    from typer.testing import CliRunner

    from svdlens.cli import app

    sl.diffusion.load(warm)
    vm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize"))
    cap, hard = vm + HEADROOM, resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    runner = CliRunner()
    for case in cases:
        print(json.dumps({"started": case["id"]}), flush=True)
        row: dict = {"id": case["id"]}
        t0 = time.perf_counter()
        try:
            sl.diffusion.load(case["folder"])
            row["error"] = None
        except BaseException as err:  # what the case raised, reported to the parent whatever it is
            row.update(error=type(err).__name__, kinds=[c.__name__ for c in type(err).__mro__], message=str(err))
        row["seconds"] = time.perf_counter() - t0
        out = Path(case["out"])
        t0 = time.perf_counter()
        res = runner.invoke(app, ["sample", "--model", case["folder"], "--steps", "2", "--quiet", "--out", str(out)])
        row.update(
            cli_seconds=time.perf_counter() - t0,
            code=res.exit_code,
            output=res.output,
            wrote=out.exists() or any(p.name.startswith(".svdlens-") for p in out.parent.iterdir()),
        )
        print(json.dumps(row), flush=True)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    root = tmp_path_factory.mktemp("originals")
    return {"sd": tiny_stable_diffusion(root / "sd"), "ddim": tiny_ddim(root / "ddim")}


@pytest.fixture(scope="module")
def results(originals, tmp_path_factory):
    root = tmp_path_factory.mktemp("broken")
    cases = []
    for i, (case, (base, breaks, _)) in enumerate(CASES.items()):
        folder = broken_copy(originals[base], root / f"case{i}")
        breaks(folder)
        (root / f"out{i}").mkdir()
        cases.append({"id": case, "folder": str(folder), "out": str(root / f"out{i}" / "samples")})
    code = f"import json, sys; sys.path[:0] = {[str(Path(__file__).parent)]!r}; import test_load_hardening as t; t._child(json.loads(sys.argv[1]), sys.argv[2])"
    env = {**os.environ, "COLUMNS": "10000", "OMP_NUM_THREADS": "1"}  # no wrapping: one message, one line
    budget = 60 + 2 * SECONDS * len(cases)
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, json.dumps(cases), str(originals["sd"])],
            capture_output=True,
            text=True,
            timeout=budget,
            env=env,
        )
    except subprocess.TimeoutExpired as err:
        lines = (
            (err.stdout or b"").decode().splitlines()
            if isinstance(err.stdout, bytes)
            else (err.stdout or "").splitlines()
        )
        started = [json.loads(line)["started"] for line in lines if line.startswith('{"started"')]
        pytest.fail(f"the cases did not finish in {budget} s; the last one started: {started[-1] if started else None}")
    rows = {}
    for line in done.stdout.splitlines():
        if line.startswith("{") and '"started"' not in line:
            row = json.loads(line)
            rows[row["id"]] = row
    assert rows, done.stderr[-3000:]
    return rows


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS, /proc and FIFOs as on Linux")
@pytest.mark.parametrize("case", list(CASES))
def test_broken_folder_is_refused_in_one_line(results, case):
    assert case in results, f"{case} did not run (an earlier case may have crashed the child)"
    row = results[case]
    assert row["error"] is not None, "it loaded"
    assert "SvdlensError" in row["kinds"], f"{row['error']}: {row.get('message')}"
    message = row["message"]
    assert "\n" not in message and "Traceback" not in message, message
    for words in CASES[case][2]:
        assert words in message, message
    assert row["seconds"] < SECONDS, row["seconds"]
    # The command line: exit 2, the same message on one line, nothing written.
    lines = [line for line in row["output"].splitlines() if line.strip()]
    assert row["code"] == 2, row["output"]
    assert len(lines) == 1 and lines[0].startswith("error: "), row["output"]
    assert " ".join(message.split()) in lines[0]
    assert not row["wrote"]
    assert row["cli_seconds"] < SECONDS, row["cli_seconds"]


# ----------------------------------------------------------------------------- what must keep working
def test_a_hugging_face_cache_snapshot_of_links_loads(originals, tmp_path):
    snapshot = hub_snapshot(originals["sd"], tmp_path / "models--someone--tiny-sd")
    assert (snapshot / "unet" / "config.json").is_symlink()
    ours, plain = sl.diffusion.load(snapshot), sl.diffusion.load(originals["sd"])
    np.testing.assert_array_equal(
        ours.sample(1, seed=0, steps=2, prompt="a face"), plain.sample(1, seed=0, steps=2, prompt="a face")
    )


def test_a_tokenizer_of_vocab_and_merges_loads_as_its_tokenizer_json(originals, tmp_path):
    folder = broken_copy(originals["sd"], tmp_path / "sd15")
    (folder / "tokenizer" / "tokenizer.json").unlink()
    write_vocab_and_merges(folder / "tokenizer")
    slow, fast = sl.diffusion.load(folder).tokenizer, sl.diffusion.load(originals["sd"]).tokenizer
    assert slow("the face of a fan").input_ids == fast("the face of a fan").input_ids


def test_strict_false_loads_with_a_warning_and_the_same_model_every_time(originals, tmp_path):
    folder = broken_copy(originals["ddim"], tmp_path / "d")
    missing = edit_weights(folder / UNET, _drop)
    edit_weights(folder / UNET, _extra)
    with pytest.raises(ModelLoadError, match="strict=False"):
        sl.diffusion.load(folder)
    with pytest.warns(SvdlensWarning, match=rf"1 tensor\(s\) missing \({missing}\).*extra_layer.weight.*seed 0"):
        first = sl.diffusion.load(folder, strict=False)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SvdlensWarning)
        second = sl.diffusion.load(folder, strict=False)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random state is left alone
    np.testing.assert_array_equal(first.sample(1, steps=2), second.sample(1, steps=2))
    with pytest.raises(InvalidParameterError, match="strict must be True or False"):
        sl.diffusion.load(folder, strict="no")


def test_weights_too_large_for_float16_are_refused_in_float16_only(originals, tmp_path):
    folder = broken_copy(originals["ddim"], tmp_path / "d")

    def big(tensors, key):
        tensors[key] = tensors[key].clone()
        tensors[key].view(-1)[0] = 1e6

    key = edit_weights(folder / UNET, big)
    with pytest.raises(ModelLoadError, match=rf"tensor {key} holds values up to 1e\+06, more than float16"):
        sl.diffusion.load(folder, dtype="float16")
    assert sl.diffusion.load(folder).unet.dtype == torch.float32


def test_a_tensor_of_another_shape_is_refused_before_the_model_is_allocated(originals, tmp_path, monkeypatch):
    """The header check runs on the meta device: diffusers' from_pretrained is never reached."""
    from diffusers import UNet2DModel

    folder = broken_copy(originals["ddim"], tmp_path / "d")
    edit_weights(folder / UNET, _reshape)

    def never(*args, **kwargs):
        raise AssertionError("from_pretrained was called")

    monkeypatch.setattr(UNet2DModel, "from_pretrained", never)
    with pytest.raises(ModelLoadError, match="another shape"):
        sl.diffusion.load(folder)


def test_older_checkpoints_load_as_the_libraries_rename_them(originals, tmp_path):
    """Text-encoder keys under ``text_model.`` with a ``position_ids`` buffer (SD 1.5) and diffusers' old
    attention names (google/ddpm-*): the same model, no warning; a tensor missing there is still refused."""
    from safetensors.torch import load_file, save_file

    sd = broken_copy(originals["sd"], tmp_path / "sd")
    tensors = {f"text_model.{k}": v for k, v in load_file(str(sd / TEXT)).items()}
    tensors["text_model.embeddings.position_ids"] = torch.arange(PROMPT_LENGTH)[None]
    save_file(tensors, str(sd / TEXT), metadata={"format": "pt"})
    ddim = broken_copy(originals["ddim"], tmp_path / "ddim")
    old = {".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."}
    renamed = {}
    for key, value in load_file(str(ddim / UNET)).items():
        for new, was in old.items():
            key = key.replace(new, was) if ".attentions." in key else key
        renamed[key] = value
    assert sum(".query." in k for k in renamed) >= 2
    save_file(renamed, str(ddim / UNET), metadata={"format": "pt"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", SvdlensWarning)
        for broken, intact, prompt in ((sd, originals["sd"], "a face"), (ddim, originals["ddim"], None)):
            ours, theirs = sl.diffusion.load(broken), sl.diffusion.load(intact)
            np.testing.assert_array_equal(
                ours.sample(1, steps=2, prompt=prompt), theirs.sample(1, steps=2, prompt=prompt)
            )
    del tensors["text_model.encoder.layers.0.mlp.fc1.weight"]
    save_file(tensors, str(sd / TEXT), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"missing: encoder.layers.0.mlp.fc1.weight"):
        sl.diffusion.load(sd)

"""Park et al.'s global basis over many images: here, cached, on a dask cluster with a worker killed, and from the CLI.

The model is the built-in one (32×32, fast) with 3 DDIM steps and 3 local directions per image,
so that each basis takes about half a second. The cluster is a ``distributed.LocalCluster`` of
2 worker processes with 1 thread each, started once for this module.
"""

from __future__ import annotations

import json
import os
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import svdlens as sl
from svdlens.cli import app
from svdlens.diffusion import ImageBasis
from svdlens.exceptions import InputFileError, InputNote, ModelError, OutputError, SvdlensError, SvdlensWarning
from svdlens.nets import LocalBasis, local_bases

T, STEPS, K_LOCAL, K, N = 0.6, 3, 3, 2, 6
FAST = ["--t", str(T), "--steps", str(STEPS), "-k", str(K), "--k-local", str(K_LOCAL), "--quiet"]
runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::svdlens.exceptions.InputNote")  # 25×25 faces, a 32×32 model


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return sl.faces.builtin()[:N]


@pytest.fixture(scope="module")
def reference(faces):
    """The single-process answer: the bases one by one from the pipeline, then their stacked-u mean."""
    pipe = sl.diffusion.load("builtin-lfw")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputNote)
        bases = [pipe.directions(f[None], t=T, k=K_LOCAL, steps=STEPS) for f in faces]
    return sl.global_directions(bases, K)


def task() -> ImageBasis:
    return ImageBasis("builtin-lfw", t=T, k=K_LOCAL, steps=STEPS)


def assert_same_directions(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-4) -> None:
    """Equal up to each direction's sign (svd fixes signs, but a tolerance should not hinge on it)."""
    A, B = a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double()
    assert A.shape == B.shape
    cos = (A * B).sum(1).abs() / (A.norm(dim=1) * B.norm(dim=1))
    assert float((1 - cos).max()) < tol, cos


def write_faces(folder: Path, faces: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(faces):
        Image.fromarray((f * 255).round().astype(np.uint8)).save(folder / f"{i:02d}.png")
    return folder


# ------------------------------------------------------------------------------- one process


def test_in_process_equals_the_bases_taken_one_by_one(faces, reference):
    g = sl.diffusion.global_directions("builtin-lfw", faces, K, k_local=K_LOCAL, t=T, steps=STEPS)
    assert_same_directions(g.directions, reference)
    assert g.computed == list(range(N)) and g.names == [f"image {i}" for i in range(N)]
    assert g.share.shape == (N, K) and bool(((g.share >= 0) & (g.share <= 1 + 1e-5)).all())
    assert torch.allclose(g.agreement, g.share.mean(0)) and bool(g.agreement[0] >= g.agreement[1])
    # the same through the model-agnostic entry point, with ImageBasis as the basis_fn
    assert_same_directions(sl.global_directions(list(faces), K, basis_fn=task()), reference)


def test_the_cache_reruns_only_what_is_missing(tmp_path, faces, reference):
    cache = tmp_path / "cache"
    first = local_bases(list(faces[:4]), task(), cache_dir=cache)
    assert first.computed == [0, 1, 2, 3] and len(list(cache.glob("basis-*.safetensors"))) == 4
    again = sl.diffusion.global_directions(
        "builtin-lfw", faces[:4], K, k_local=K_LOCAL, t=T, steps=STEPS, cache_dir=cache
    )
    assert again.computed == []
    (cache / f"basis-{first.keys[2]}.safetensors").unlink()
    (cache / f"basis-{first.keys[3]}.safetensors").write_bytes(b"truncated")  # unreadable: named, computed again
    with pytest.warns(SvdlensWarning, match=f"basis-{first.keys[3]}.safetensors.*computing it again"):
        all_six = sl.diffusion.global_directions(
            "builtin-lfw", faces, K, k_local=K_LOCAL, t=T, steps=STEPS, cache_dir=cache
        )
    LocalBasis.load(cache / f"basis-{first.keys[3]}.safetensors")  # replaced by a good one
    assert all_six.computed == [2, 3, 4, 5]
    assert_same_directions(all_six.directions, reference)
    # another setting is another key: nothing is reused
    other = sl.diffusion.global_directions("builtin-lfw", faces[:2], K, k_local=K_LOCAL, t=T, steps=2, cache_dir=cache)
    assert other.computed == [0, 1] and len(list(cache.glob("basis-*.safetensors"))) == 8


def test_a_failed_run_keeps_what_it_finished(tmp_path, faces):
    folder = write_faces(tmp_path / "faces", faces[:4])
    good = (folder / "02.png").read_bytes()
    (folder / "02.png").write_bytes(b"not a png")
    cache = tmp_path / "cache"
    with pytest.raises(InputFileError, match="02.png"):
        sl.diffusion.global_directions("builtin-lfw", folder, K, k_local=K_LOCAL, t=T, steps=STEPS, cache_dir=cache)
    assert len(list(cache.glob("*.safetensors"))) == 2
    (folder / "02.png").write_bytes(good)
    rerun = sl.diffusion.global_directions("builtin-lfw", folder, K, k_local=K_LOCAL, t=T, steps=STEPS, cache_dir=cache)
    assert rerun.computed == [2, 3] and rerun.names == ["00.png", "01.png", "02.png", "03.png"]


def test_bad_arguments_are_refused_before_any_work(tmp_path, faces):
    with pytest.raises(SvdlensError, match="no items"):
        local_bases([], task())
    with pytest.raises(SvdlensError, match="cache_token"):
        local_bases([faces[0]], lambda x: None, cache_dir=tmp_path / "c")
    with pytest.raises(SvdlensError, match="give basis_fn too"):
        sl.global_directions(list(faces), K, cache_dir=tmp_path / "c")
    with pytest.raises(SvdlensError, match="k=7 shared directions"):
        sl.diffusion.global_directions("builtin-lfw", faces[:2], 7, k_local=3)
    with pytest.raises(SvdlensError, match="t must be"):
        sl.diffusion.global_directions("builtin-lfw", faces, K, t=1.5)
    with pytest.raises(SvdlensError, match="NaN or Inf"):
        sl.diffusion.global_directions("builtin-lfw", np.full((2, 8, 8), np.nan), K)
    with pytest.raises(SvdlensError, match="no dask scheduler answered"):
        local_bases([faces[0]], task(), client="tcp://127.0.0.1:9", timeout=0.5)
    assert not (tmp_path / "c").exists()

    def boom(x):
        raise RuntimeError("out of cheese")

    with pytest.raises(ModelError, match="the local basis of item 1 failed: RuntimeError: out of cheese"):
        local_bases([1, 2], lambda x: boom(x) if x == 2 else sl.local_basis(lambda y: 2 * y, torch.ones(2), k=1))


# ------------------------------------------------------------------------------- the cache: keys and bad entries


class Doubling:
    """A cheap basis_fn (x ↦ 2x) that counts its calls; items are arrays or ``.npy`` files."""

    cache_token = "doubling, k=1"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, item) -> LocalBasis:
        self.calls += 1
        x = torch.as_tensor(np.load(item) if isinstance(item, Path) else item, dtype=torch.float64)
        return sl.local_basis(lambda y: 2 * y, x, k=1, method="exact")


def test_a_foreign_entry_is_named_recomputed_and_replaced(tmp_path):
    from safetensors.torch import save_file

    cache, fn = tmp_path / "cache", Doubling()
    first = local_bases([np.ones(3), np.zeros(3)], fn, cache_dir=cache)
    foreign = cache / f"basis-{first.keys[1]}.safetensors"
    save_file({"weights": torch.ones(2)}, str(foreign))  # a valid safetensors file, but not a basis
    with pytest.warns(SvdlensWarning, match=f"{foreign.name} is not a local basis.*computing it again"):
        again = local_bases([np.ones(3), np.zeros(3)], fn, cache_dir=cache)
    assert again.computed == [1] and fn.calls == 3
    assert LocalBasis.load(foreign).s.tolist() == [2.0]


def test_an_entry_that_is_a_folder_is_refused_with_its_path(tmp_path):
    cache, fn = tmp_path / "cache", Doubling()
    keys = local_bases([np.ones(3)], fn, cache_dir=cache).keys
    (cache / f"basis-{keys[0]}.safetensors").unlink()
    (cache / f"basis-{keys[0]}.safetensors").mkdir()
    with pytest.raises(OutputError, match=f"cache entry {cache}/basis-{keys[0]}.safetensors is a folder.*remove it"):
        local_bases([np.ones(3)], fn, cache_dir=cache)
    assert fn.calls == 1  # refused before it was computed again


def test_a_cache_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, monkeypatch):
    fn = Doubling()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=f"cannot make the cache folder {tmp_path}/file/cache: .*file is a file"):
        local_bases([np.ones(3)], fn, cache_dir=tmp_path / "file" / "cache")
    with pytest.raises(OutputError, match="the cache folder .* is a file"):
        local_bases([np.ones(3)], fn, cache_dir=tmp_path / "file")
    read_only = tmp_path / "read-only"
    read_only.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # root writes through file modes, so the refusal is simulated where svdlens tries to write
    monkeypatch.setattr("tempfile.mkstemp", refuse)
    for cache in (read_only, read_only / "new"):
        with pytest.raises(OutputError, match=f"cannot write to the cache folder {cache}.*Permission denied"):
            local_bases([np.ones(3)], fn, cache_dir=cache)
    assert fn.calls == 0 and list(read_only.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file modes that bind (not root)")
def test_a_read_only_cache_folder_is_refused_before_any_work(tmp_path):
    cache, fn = tmp_path / "cache", Doubling()
    cache.mkdir()
    cache.chmod(0o555)
    try:
        with pytest.raises(OutputError, match=f"cannot write to the cache folder {cache}"):
            local_bases([np.ones(3)], fn, cache_dir=cache)
    finally:
        cache.chmod(0o755)
    assert fn.calls == 0


def test_a_failed_write_names_the_entry(tmp_path, monkeypatch):
    def disk_full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(LocalBasis, "save", disk_full)
    with pytest.raises(OutputError, match="cannot write the cached basis .*basis-[0-9a-f]{32}.safetensors: No space"):
        local_bases([np.ones(3)], Doubling(), cache_dir=tmp_path / "cache")


def test_a_file_item_is_keyed_by_its_bytes(tmp_path):
    item, cache, fn = tmp_path / "x.npy", tmp_path / "cache", Doubling()
    np.save(item, np.ones(3))
    assert local_bases([item], fn, cache_dir=cache).computed == [0]
    assert local_bases([item], fn, cache_dir=cache).computed == []
    np.save(item, np.full(3, 2.0))  # the same path, other contents: computed again
    assert local_bases([item], fn, cache_dir=cache).computed == [0] and fn.calls == 2
    # a tuple is keyed by each part, not by a repr that elides the middle of a long array
    a, b = np.zeros(10_000), np.zeros(10_000)
    b[5000] = 1
    assert repr((a,)) == repr((b,))
    from svdlens.nets._distributed import _item_key

    assert _item_key("t", (a,)) != _item_key("t", (b,)) and _item_key("t", (a,)) == _item_key("t", (a.copy(),))


def test_the_fingerprint_covers_every_file_that_changes_the_model(tmp_path):
    from svdlens.diffusion._builtin import builtin_folder

    model = tmp_path / "model"
    for sub in ("unet", "tokenizer", "text_encoder", "scheduler"):
        (model / sub).mkdir(parents=True)
    (model / "model_index.json").write_text("{}")
    (model / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"weights")
    (model / "tokenizer" / "merges.txt").write_text("#version: 0.2\nh e\n")
    (model / "tokenizer" / "vocab.json").write_text('{"he": 0}')
    (model / "text_encoder" / "spiece.model").write_bytes(b"sentencepiece")
    (model / "scheduler" / "scheduler_config.json").write_text('{"beta_end": 0.012}')

    def token() -> str:
        return ImageBasis(model, t=T, k=K_LOCAL, steps=STEPS).cache_token

    tokens = [token()]
    for path, text in [
        ("tokenizer/merges.txt", "#version: 0.2\nh e\nl o\n"),
        ("tokenizer/vocab.json", '{"he": 1}'),
        ("text_encoder/spiece.model", "sentencepiece 2"),
        ("scheduler/scheduler_config.json", '{"beta_end": 0.02}'),
        ("unet/diffusion_pytorch_model.safetensors", "other weights"),
        ("tokenizer/added_tokens.json", "{}"),  # a new file counts too
    ]:
        (model / path).write_text(text)
        tokens.append(token())
    assert len(set(tokens)) == len(tokens)
    # documentation, pictures, hidden files and refused pickles change nothing
    (model / "README.md").write_text("a model card")
    (model / "sample.png").write_bytes(b"png")
    (model / ".cache").mkdir()
    (model / ".cache" / "download.lock").write_text("x")
    (model / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    assert token() == tokens[-1]
    # the built-in model is fingerprinted by its files as well
    assert builtin_folder("builtin-lfw") is not None and '"model": "sha256:' in task().cache_token


def test_options_are_keyed_by_their_contents(tmp_path):
    a, b = torch.zeros(3, 1000), torch.zeros(3, 1000)
    b[1, 500] = 1.0
    assert repr(a) == repr(b)

    def token(**options) -> str:
        return ImageBasis("builtin-lfw", t=T, k=K_LOCAL, steps=STEPS, **options).cache_token

    assert token(start=a) != token(start=b) and token(start=a) == token(start=a.clone())
    assert token(prompt="a face") != token(prompt="a smile") and token(tol=1e-3) != token(tol=1e-4)
    assert token(start=np.ones(2)) != token(start=np.ones(2, dtype=np.float32))
    with pytest.raises(SvdlensError, match="the option layer .* cannot be part of the cache key"):
        token(layer=object())
    with pytest.raises(SvdlensError, match="cannot be part of the cache key"):
        local_bases([np.ones(3)], ImageBasis("builtin-lfw", k=1, steps=2, layer=object()), cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists()


# ------------------------------------------------------------------------------- a dask cluster


class Logged:
    """An :class:`ImageBasis` that logs ``start``/``end``, the time and its process id to a file the workers share.

    It waits ``PAUSE`` seconds after ``start``, so that the test can kill a worker surely in the middle of a task.
    """

    PAUSE = 0.6

    def __init__(self, inner: ImageBasis, log: Path) -> None:
        self.inner, self.log = inner, str(log)

    @property
    def cache_token(self) -> str:
        return self.inner.cache_token

    def _write(self, what: str) -> None:
        with open(self.log, "a") as f:
            f.write(f"{what} {time.time():.3f} {os.getpid()}\n")

    def __call__(self, image):
        self._write("start")
        time.sleep(self.PAUSE)
        basis = self.inner(image)
        self._write("end")
        return basis


def read_log(log: Path) -> list[tuple[str, float, int]]:
    if not log.exists():
        return []
    return [(w, float(when), int(pid)) for w, when, pid in (line.split() for line in log.read_text().splitlines())]


def busy_for_a_while(log: Path) -> list[int]:
    """Processes whose task started at least PAUSE/3 ago and has not ended (an earlier result has been fetched)."""
    started: dict[int, float | None] = {}
    for what, when, pid in read_log(log):
        started[pid] = when if what == "start" else None
    now = time.time()
    return [pid for pid, when in started.items() if when is not None and now - when > Logged.PAUSE / 3]


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
    ) as cluster:
        yield cluster


def test_a_killed_worker_loses_only_its_image_and_the_result_equals_one_process(cluster, tmp_path, faces, reference):
    distributed = pytest.importorskip("distributed")
    log, cache = tmp_path / "log.txt", tmp_path / "cache"
    killed: list[int] = []

    def kill_one_busy_worker(done: int, total: int, label: str) -> None:
        if killed or done < 1:
            return
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = busy_for_a_while(log)
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.01)

    with distributed.Client(cluster) as client:
        pids_before = set(client.run(os.getpid).values())
        run = local_bases(
            list(faces), Logged(task(), log), client=client, cache_dir=cache, progress=kill_one_busy_worker
        )
        assert len(killed) == 1 and killed[0] in pids_before
        assert run.computed == list(range(N))
        assert_same_directions(sl.global_directions(run.bases, K), reference)
        assert all(b.jacobian is None for b in run.bases)  # no live Jacobian (it holds the model) travels back
        entries = read_log(log)
        starts = [e for e in entries if e[0] == "start"]
        ends = [e for e in entries if e[0] == "end"]
        lost = sum(e[2] == killed[0] for e in starts) - sum(e[2] == killed[0] for e in ends)
        assert len(ends) == N and lost == 1 and len(starts) == N + 1  # one image done twice, no more
        # a rerun finds every basis in the cache: no task is sent, no basis is computed
        again = sl.global_directions(list(faces), K, basis_fn=Logged(task(), log), client=client, cache_dir=cache)
        assert len(read_log(log)) == len(entries)
        assert_same_directions(again, reference)


def fail_remotely(x):
    raise RuntimeError(f"worker trouble at {x}")


def test_an_error_on_a_worker_comes_back_clearly(cluster, tmp_path, faces):
    distributed = pytest.importorskip("distributed")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{ not json")
    with distributed.Client(cluster) as client:
        with pytest.raises(SvdlensError, match="not valid JSON"):  # the worker's ModelLoadError, as raised
            sl.diffusion.global_directions(model, faces[:2], K, k_local=K_LOCAL, steps=STEPS, client=client)
        with pytest.raises(ModelError, match="the local basis of item 0 failed: RuntimeError: worker trouble at 7"):
            local_bases([7], fail_remotely, client=client)


def test_the_command_line_on_a_cluster_and_here(cluster, tmp_path, faces):
    folder = write_faces(tmp_path / "faces", faces[:4])
    cache = tmp_path / "cache"
    address = cluster.scheduler_address
    args = ["directions", "--images", str(folder), "--global", *FAST]
    res = runner.invoke(app, [*args, "--scheduler", address, "--cache", str(cache), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    out = tmp_path / "o"
    assert {p.name for p in out.iterdir()} >= {"global_directions.safetensors", "directions.png", "summary.json"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["computed"] == 4 and summary["from_cache"] == 0 and summary["scheduler"] == address
    assert summary["names"] == ["00.png", "01.png", "02.png", "03.png"] and len(summary["agreement"]) == K
    from safetensors.torch import load_file

    on_cluster = load_file(str(out / "global_directions.safetensors"))["directions"]
    # here, without the cache: the same directions
    res = runner.invoke(app, [*args, "--no-cache", "--out", str(tmp_path / "here")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "here" / "summary.json").read_text())["computed"] == 4
    assert_same_directions(
        load_file(str(tmp_path / "here" / "global_directions.safetensors"))["directions"], on_cluster
    )
    # a rerun into the same folder: svdlens wrote it, and every basis is cached
    res = runner.invoke(app, [*args, "--cache", str(cache), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "summary.json").read_text())["from_cache"] == 4


# ------------------------------------------------------------------------------- bad input on the command line

BAD = [
    ("--global without --images", ["--global"], ["--global needs --images"]),
    ("--images without --global", ["--images", "{d}/faces"], ["--images and --cache go with --global"]),
    (
        "--scheduler without --global",
        ["--image", "builtin:0", "--scheduler", "tcp://127.0.0.1:9"],
        ["--scheduler and --cache go with --global"],
    ),
    ("--global with --seed", ["--images", "{d}/faces", "--global", "--seed", "1"], ["leave out --image and --seed"]),
    ("a missing folder", ["--images", "{d}/nowhere", "--global"], ["no such file or folder"]),
    ("an empty folder", ["--images", "{d}/empty", "--global"], ["is empty"]),
    ("a folder without images", ["--images", "{d}/notes", "--global"], ["no image files"]),
    ("k above what the images give", ["--images", "{d}/faces", "--global", "-k", "9", "--k-local", "1"], ["k=9"]),
    ("a bad --k-local", ["--images", "{d}/faces", "--global", "--k-local", "0"], ["--k-local"]),
    (
        "an unreachable scheduler",
        ["--images", "{d}/faces", "--global", "--scheduler", "tcp://127.0.0.1:9", "--scheduler-timeout", "1"],
        ["no dask scheduler answered at tcp://127.0.0.1:9"],
    ),
]


@pytest.mark.parametrize(("args", "words"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_gets_a_clear_error_and_writes_nothing(tmp_path, faces, args, words):
    write_faces(tmp_path / "faces", faces[:3])
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no faces here\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    cmd = ["directions", *[a.replace("{d}", str(tmp_path)) for a in args], "--steps", "2", "--quiet"]
    res = runner.invoke(app, [*cmd, "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "o")])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2, flat
    assert "Traceback" not in res.output and not isinstance(res.exception, (AttributeError, IndexError, OSError))
    for w in words:
        assert w in flat, flat
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no output folder, no cache, inputs as they were


@pytest.mark.parametrize("greeting", [None, b"\xff" * 8], ids=["a silent peer", "a peer that sends 0xff bytes"])
def test_a_scheduler_address_that_is_no_scheduler_fails_in_time_and_writes_nothing(tmp_path, faces, greeting):
    pytest.importorskip("distributed")
    from test_dask_connect import Peer

    write_faces(tmp_path / "faces", faces[:2])
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with Peer(greeting or b"") as peer:
        t0 = time.monotonic()
        with pytest.raises(SvdlensError, match=f"at {peer.address}"):
            local_bases(list(faces[:2]), task(), client=peer.address, timeout=1.0, cache_dir=tmp_path / "c1")
        took = time.monotonic() - t0
        cmd = ["directions", "--images", str(tmp_path / "faces"), "--global", "--scheduler", peer.address]
        cmd += ["--scheduler-timeout", "1", "--steps", "2", "--quiet", "--cache", str(tmp_path / "c2")]
        res = runner.invoke(app, [*cmd, "--out", str(tmp_path / "o")])
    assert took < 3.5, took  # the timeout (1 s) and a margin for a busy machine
    flat = " ".join(res.output.split())
    assert res.exit_code == 2 and "Traceback" not in res.output, flat
    words = "sent nothing" if greeting is None else "is not a dask scheduler"
    assert words in flat and peer.address in flat, flat
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no output folder, no cache

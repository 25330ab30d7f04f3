"""Training the built-in DDPM: a few real steps, reproducible, written in the diffusers folder format."""

import json
import shutil

import torch

from svdlens.diffusion import train_faces
from svdlens.diffusion._builtin import build_unet, face_images


def test_face_images():
    X = face_images()
    assert X.shape == (200, 1, 32, 32) and X.min() >= -1 and X.max() <= 1
    torch.testing.assert_close(X[100:], X[:100].flip(-1))  # the mirrored half


def test_a_few_steps_are_reproducible_and_loadable(tmp_path):
    from diffusers import DDPMScheduler, UNet2DModel

    a = train_faces(tmp_path / "a", steps=3, batch_size=4, seed=1)
    train_faces(tmp_path / "b", steps=3, batch_size=4, seed=1)
    assert a["steps"] == 3 and a["device"] == "cpu"
    wa = UNet2DModel.from_pretrained(tmp_path / "a")
    wb = UNet2DModel.from_pretrained(tmp_path / "b")
    for (na, pa), (_, pb) in zip(wa.state_dict().items(), wb.state_dict().items()):
        torch.testing.assert_close(pa, pb, msg=na)
    assert (tmp_path / "a" / "diffusion_pytorch_model.safetensors").exists()
    DDPMScheduler.from_pretrained(tmp_path / "a")
    assert json.loads((tmp_path / "a" / "training.json").read_text())["parameters"] == sum(
        p.numel() for p in build_unet().parameters()
    )


def test_resume_goes_on_from_saved_weights(tmp_path):
    import pytest
    from diffusers import UNet2DModel

    first = train_faces(tmp_path / "a", steps=2, batch_size=4, seed=1)
    info = train_faces(tmp_path / "b", steps=2, batch_size=4, seed=2, lr=1e-6, resume=tmp_path / "a")
    assert info["resumed_from"] == str(tmp_path / "a") and info["history"][0]["steps"] == first["steps"]
    a = UNet2DModel.from_pretrained(tmp_path / "a").state_dict()
    b = UNet2DModel.from_pretrained(tmp_path / "b").state_dict()
    # A tiny learning rate and EMA 0.999 keep the resumed weights next to the ones it started from.
    for name in a:
        torch.testing.assert_close(b[name], a[name], atol=1e-4, rtol=0, msg=name)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train_faces(tmp_path / "c", steps=1, resume=tmp_path / "missing")


RUNS = [  # at the built-in real-face model's depth, layers_per_block 1
    {"data": "lfw", "steps": 2, "batch_size": 2, "lr": 1e-3, "seed": 1, "timesteps": None, "timestep_share": 1.0,
     "layers_per_block": 1, "widths": [32, 64, 64], "loss_weight": "epsilon"},
    {"data": "lfw", "steps": 3, "batch_size": 2, "lr": 5e-4, "seed": 2, "timesteps": None, "timestep_share": 1.0,
     "layers_per_block": 1, "widths": [32, 64, 64], "loss_weight": "epsilon"},
]  # fmt: skip


def _weights(folder):
    from diffusers import UNet2DModel

    return UNet2DModel.from_pretrained(folder).state_dict()


def test_train_like_replays_each_run_from_the_one_before(tmp_path, monkeypatch):
    import svdlens.diffusion._train as training
    from svdlens.diffusion import train_like

    train_faces(tmp_path / "a", **RUNS[0])
    train_faces(tmp_path / "b", **RUNS[1], resume=tmp_path / "a")  # the oracle: the runs by hand
    calls = []
    info = train_like("unused", tmp_path / "out", runs=RUNS, progress=lambda d, n, label: calls.append((d, n, label)))
    assert (info["run"], info["runs"], info["stopped"], info["steps"]) == (2, 2, False, 3)
    assert [run["seed"] for run in info["history"]] == [1]
    want = _weights(tmp_path / "b")
    for name, value in _weights(tmp_path / "out").items():
        torch.testing.assert_close(value, want[name], msg=name)
    assert calls[-1][:2] == (5, 5) and calls[-1][2].startswith("run 2/2")
    assert training.training_runs(tmp_path / "out") == RUNS  # the record it wrote replays itself

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(training, "train_faces", must_not_train)
    assert train_like("unused", tmp_path / "out", runs=RUNS)["steps"] == 3  # called again: nothing to do


def test_train_like_stops_and_goes_on_exactly(tmp_path):
    from svdlens.diffusion import train_like

    whole = train_like("unused", tmp_path / "whole", runs=RUNS)
    stopped = train_like("unused", tmp_path / "out", runs=RUNS, time_limit_s=1e-9)  # one step, then stop
    assert stopped["stopped"] and stopped["run"] == 1 and stopped["steps"] == 1
    assert not (tmp_path / "out").exists()
    info = train_like("unused", tmp_path / "out", runs=RUNS)
    assert info["steps"] == whole["steps"] and not info["stopped"]
    want = _weights(tmp_path / "whole")
    for name, value in _weights(tmp_path / "out").items():
        torch.testing.assert_close(value, want[name], msg=name)


def test_training_runs_of_the_shipped_models():
    from svdlens.diffusion._train import training_runs

    world = training_runs("builtin")
    assert len(world) >= 2 and {run["data"] for run in world} == {"world"}
    assert [run["seed"] for run in world] == list(range(len(world)))  # a new data seed for every run
    lfw = training_runs("builtin-lfw")
    assert [run["steps"] for run in lfw] == [7059, 9947, 8290]
    assert {run["data"] for run in lfw} == {"lfw"}  # its older records do not say; the built-in's data


def test_training_runs_refuses_a_folder_without_a_whole_record(tmp_path):
    import pytest

    from svdlens.diffusion._train import training_runs
    from svdlens.exceptions import InvalidParameterError, MissingInputError

    with pytest.raises(MissingInputError, match="no training record"):
        training_runs(tmp_path)
    (tmp_path / "training.json").write_text(json.dumps({"data": "world", "steps": 5, "batch_size": 2, "seed": 0}))
    with pytest.raises(InvalidParameterError, match="run 1 .* does not say its lr"):
        training_runs(tmp_path)


def test_a_run_on_part_of_the_timesteps_is_recorded_and_replayed(tmp_path):
    import pytest

    from svdlens.diffusion import train_like
    from svdlens.diffusion._train import training_runs
    from svdlens.exceptions import InvalidParameterError

    high = {**RUNS[0], "timesteps": [900, 1000]}
    info = train_faces(tmp_path / "a", **high)
    assert info["timesteps"] == [900, 1000] and training_runs(tmp_path / "a") == [high]
    whole = train_faces(tmp_path / "b", **RUNS[0])
    assert whole["timesteps"] is None
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert any(not torch.equal(a[name], b[name]) for name in a)  # other timesteps, other weights
    replayed = train_like("unused", tmp_path / "c", runs=[high])
    for name, value in _weights(tmp_path / "c").items():
        torch.testing.assert_close(value, a[name], msg=name)
    assert replayed["timesteps"] == [900, 1000]
    for bad in ((5, 5), (0, 1001), (1000, 1000), (3,)):
        with pytest.raises(InvalidParameterError, match="timesteps"):
            train_faces(tmp_path / "d", **RUNS[0] | {"timesteps": bad})
    assert not (tmp_path / "d").exists()


def test_a_share_of_each_batch_comes_from_the_timesteps_asked_and_the_rest_from_all(tmp_path, monkeypatch):
    import pytest

    from svdlens.diffusion import _train, train_like
    from svdlens.diffusion._train import training_runs
    from svdlens.exceptions import InvalidParameterError

    drawn = []
    build = _train.build_scheduler

    def recording():
        scheduler = build()
        add_noise = scheduler.add_noise
        scheduler.add_noise = lambda x0, noise, t: drawn.append(t.tolist()) or add_noise(x0, noise, t)
        return scheduler

    monkeypatch.setattr(_train, "build_scheduler", recording)
    mixed = {**RUNS[0], "steps": 4, "batch_size": 4, "timesteps": [900, 1000], "timestep_share": 0.5}
    info = train_faces(tmp_path / "a", **mixed)
    assert info["timestep_share"] == 0.5 and training_runs(tmp_path / "a") == [mixed]
    assert len(drawn) == 4 and all(900 <= t < 1000 for batch in drawn for t in batch[:2])
    assert any(t < 900 for batch in drawn for t in batch[2:])  # 8 draws from all 1000: P(none below 900) = 1e-8
    drawn.clear()
    train_faces(tmp_path / "b", **mixed | {"timestep_share": 1.0})
    assert all(900 <= t < 1000 for batch in drawn for t in batch)
    train_like("unused", tmp_path / "c", runs=[mixed])
    for name, value in _weights(tmp_path / "c").items():
        torch.testing.assert_close(value, _weights(tmp_path / "a")[name], msg=name)
    for bad in ({"timestep_share": 1.5}, {"timestep_share": -0.1}, {"timesteps": None}):
        with pytest.raises(InvalidParameterError, match="timestep_share"):
            train_faces(tmp_path / "d", **mixed | bad)
    assert not (tmp_path / "d").exists()


def test_a_deeper_unet_is_built_recorded_resumed_and_replayed(tmp_path):
    import pytest

    from svdlens.diffusion import train_like
    from svdlens.diffusion._train import training_runs
    from svdlens.exceptions import ModelLoadError

    deep = [run | {"layers_per_block": 2} for run in RUNS]
    first = train_faces(tmp_path / "a", **deep[0])
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["layers_per_block"] == 2 and first["layers_per_block"] == 2
    assert first["parameters"] == sum(p.numel() for p in build_unet("lfw", 2).parameters())
    assert first["parameters"] > sum(p.numel() for p in build_unet("lfw").parameters())
    # Resumed from the folder without saying: the network it holds, recorded again.
    second = train_faces(tmp_path / "b", **RUNS[1] | {"layers_per_block": None}, resume=tmp_path / "a")
    assert second["layers_per_block"] == 2 and training_runs(tmp_path / "b") == deep
    with pytest.raises(ModelLoadError, match="layers_per_block=2, not 1"):
        train_faces(tmp_path / "c", **RUNS[1], resume=tmp_path / "a")
    with pytest.raises(ModelLoadError, match="layers_per_block=2, not 1"):
        train_faces(tmp_path / "c", **RUNS[1], resume=tmp_path / "a.checkpoint")
    # A damaged checkpoint record is a clear error too, whether its depth is asked for or read from it.
    shutil.copytree(tmp_path / "a.checkpoint", tmp_path / "broken")
    (tmp_path / "broken" / "checkpoint.json").write_text("{not json")
    for depth in (None, 2):
        with pytest.raises(ModelLoadError, match="checkpoint.json is not valid JSON"):
            train_faces(tmp_path / "c", **RUNS[1] | {"layers_per_block": depth}, resume=tmp_path / "broken")
    assert not (tmp_path / "c").exists()
    replayed = train_like(tmp_path / "b", tmp_path / "out")
    want = _weights(tmp_path / "b")
    for name, value in _weights(tmp_path / "out").items():
        torch.testing.assert_close(value, want[name], msg=name)
    assert replayed["layers_per_block"] == 2
    # A record from before the option takes the depth of the model it made.
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    record.pop("layers_per_block")
    for run in record["history"]:
        run.pop("layers_per_block")
    (tmp_path / "b" / "training.json").write_text(json.dumps(record))
    assert training_runs(tmp_path / "b") == deep


def test_the_v_loss_weight_is_v_predictions_loss_for_an_epsilon_network(tmp_path, monkeypatch):
    """Salimans & Ho's v = √ᾱ ε − √(1−ᾱ) x0, by diffusers' own get_velocity: ‖v − v̂‖² = w_t ‖ε − ε̂‖²."""
    import pytest

    from svdlens.diffusion import _train, train_like
    from svdlens.diffusion._builtin import build_scheduler
    from svdlens.diffusion._train import V_WEIGHT_CAP, _loss_weights, training_runs
    from svdlens.exceptions import InvalidParameterError, ModelLoadError

    scheduler = build_scheduler()
    weights = _loss_weights(scheduler.alphas_cumprod, "v", torch.device("cpu"))
    assert _loss_weights(scheduler.alphas_cumprod, "epsilon", torch.device("cpu")) is None
    g = torch.Generator().manual_seed(0)
    x0, eps, guess = (torch.randn(6, 1, 8, 8, generator=g, dtype=torch.float64) for _ in range(3))
    t = torch.tensor([0, 200, 450, 600, 750, 840])  # 1/ᾱ below the cap
    a = scheduler.alphas_cumprod.double()[t].view(-1, 1, 1, 1)
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    guess_x0 = (xt - (1 - a).sqrt() * guess) / a.sqrt()
    v_loss = (scheduler.get_velocity(guess_x0, guess, t) - scheduler.get_velocity(x0, eps, t)).pow(2).mean((1, 2, 3))
    torch.testing.assert_close(weights[t].double() * (guess - eps).pow(2).mean((1, 2, 3)), v_loss, rtol=1e-6, atol=0)
    assert weights.min() >= 1 and weights.max() == V_WEIGHT_CAP and weights[999] == V_WEIGHT_CAP
    assert torch.all(weights[1:] >= weights[:-1])  # more noise, more weight

    # The training loop weighs each image's loss by its timestep's weight: one image, one step.
    drawn = []
    build = _train.build_scheduler

    def recording():
        sched = build()
        add_noise = sched.add_noise
        sched.add_noise = lambda x0, noise, t: drawn.append(int(t[0])) or add_noise(x0, noise, t)
        return sched

    monkeypatch.setattr(_train, "build_scheduler", recording)
    one = {**RUNS[0], "steps": 1, "batch_size": 1}
    plain = train_faces(tmp_path / "e", **one)
    weighted = train_faces(tmp_path / "v", **one | {"loss_weight": "v"})
    assert drawn[0] == drawn[1]
    assert weighted["final_loss_mean_last_200"] == pytest.approx(
        float(weights[drawn[0]]) * plain["final_loss_mean_last_200"], rel=1e-5
    )
    monkeypatch.undo()

    # Recorded, replayed, and kept on resume.
    run = {**RUNS[0], "loss_weight": "v"}
    info = train_faces(tmp_path / "a", **run)
    assert info["loss_weight"] == "v" and training_runs(tmp_path / "a") == [run]
    train_like("unused", tmp_path / "b", runs=[run])
    for name, value in _weights(tmp_path / "b").items():
        torch.testing.assert_close(value, _weights(tmp_path / "a")[name], msg=name)
    train_faces(tmp_path / "p", **RUNS[0])
    plain_weights = _weights(tmp_path / "p")
    assert any(not torch.equal(value, plain_weights[name]) for name, value in _weights(tmp_path / "a").items())
    with pytest.raises(ModelLoadError, match="loss_weight='v', not 'epsilon'"):
        train_faces(tmp_path / "c", **RUNS[0] | {"steps": 3}, resume=tmp_path / "a.checkpoint")
    with pytest.raises(InvalidParameterError, match="loss_weight"):
        train_faces(tmp_path / "c", **RUNS[0] | {"loss_weight": "x0"})
    assert not (tmp_path / "c").exists()


def test_wider_blocks_are_built_recorded_resumed_and_replayed(tmp_path):
    import pytest

    from svdlens.diffusion import train_like
    from svdlens.diffusion._train import training_runs
    from svdlens.exceptions import InvalidParameterError, ModelLoadError

    wide = [run | {"widths": [48, 64, 64]} for run in RUNS]
    first = train_faces(tmp_path / "a", **wide[0])
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["block_out_channels"] == [48, 64, 64] and first["widths"] == [48, 64, 64]
    assert first["parameters"] == sum(p.numel() for p in build_unet("lfw", widths=(48, 64, 64)).parameters())
    # Resumed from the folder or its checkpoint without saying: the network it holds.
    second = train_faces(tmp_path / "b", **RUNS[1] | {"widths": None}, resume=tmp_path / "a")
    assert second["widths"] == [48, 64, 64] and training_runs(tmp_path / "b") == wide
    for source in ("a", "a.checkpoint"):
        with pytest.raises(ModelLoadError, match=r"widths=\[48, 64, 64\], not \[32, 64, 64\]"):
            train_faces(tmp_path / "c", **RUNS[1], resume=tmp_path / source)
    for bad, message in (
        ([32, 64], "3 whole numbers"),
        ([32, 64, 64.5], "3 whole numbers"),
        ("326", "3 whole numbers"),
        ([24, 64, 64], "multiple of 16"),
        ([32, 64, 48], "multiple of 32"),
        ([0, 64, 64], "widths"),
        ([32, 64, 1024], "widths"),
    ):
        with pytest.raises(InvalidParameterError, match=message):
            train_faces(tmp_path / "c", **RUNS[0] | {"widths": bad})
    assert not (tmp_path / "c").exists()
    train_like(tmp_path / "b", tmp_path / "out")
    want = _weights(tmp_path / "b")
    for name, value in _weights(tmp_path / "out").items():
        torch.testing.assert_close(value, want[name], msg=name)
    # A record from before the option takes the widths of the model it made.
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    for run in [record, *record["history"]]:
        run.pop("widths")
    (tmp_path / "b" / "training.json").write_text(json.dumps(record))
    assert training_runs(tmp_path / "b") == wide

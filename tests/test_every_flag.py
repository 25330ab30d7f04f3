"""Every option of every command either changes what the command does or is refused: none is ignored.

The walk: :data:`CASES` names, for each ``(command, option)``, the runs that prove it. The
first test walks the options typer knows for every command and fails on any that has no case,
so a new flag cannot be added without saying how it shows. The kinds of proof:

- :class:`Changes`: the command runs with and without the option (or with another value) and
  what it writes differs: the files under the run's folder (``summary.json`` without its
  timings) and stdout (timings masked). Each base run is repeated once to prove that it is
  deterministic, so a difference is the option's doing.
- :class:`Refused`: where the option would have no effect, exit 2 and a message naming it.
- :class:`Reaches`: for effects no file shows (a memory budget, the browser, the demo's
  settings), the option arrives at the library call that acts on it, with a spy on that call.
- :class:`Quiets`, :class:`Forces`: ``--quiet`` removes the progress shown on a terminal;
  ``--force`` turns a refusal to replace a user's file into a run.

Everything runs on tiny random models (tests/tiny_pipelines.py) and small inputs made here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from svdlens.cli import app
from tiny_pipelines import tiny_ddim, tiny_stable_diffusion


@dataclass
class Changes:
    base: list[str]
    changed: list[str]


@dataclass
class Refused:
    args: list[str]
    words: str


@dataclass
class Reaches:
    base: list[str]
    changed: list[str]
    target: str  # "module:attribute" of the library call that acts on the option
    keyword: str  # the argument of that call that must differ
    stub: object = "call through"  # what the spy returns instead of calling (for work done elsewhere)
    also: tuple[str, ...] = ()  # more calls to stub out (returning None) in the same run


@dataclass
class Quiets:
    args: list[str]


@dataclass
class Forces:
    args: list[str]
    existing: str = "summary.json"  # a file of the user's, named like an output


@dataclass
class Harmless:
    why: str


@dataclass
class Run:
    code: int
    stdout: str
    files: dict[str, str] = field(default_factory=dict)
    output: str = ""  # stdout and stderr as the user saw them


# ----------------------------------------------------------------------------- the commands' bases
SVD = ["svd", "2 1; 1 3", "--json"]
POWER = [*SVD, "--method", "power", "-k", "2"]
EXACT = [*SVD, "--method", "exact"]
RAND = ["svd", "{mat}", "--method", "subspace", "-k", "2", "--tol", "1e-3", "--json"]
EXPLAIN = ["explain", "2 1; 1 3"]
EXPLAIN_OUT = [*EXPLAIN, "--only", "projection", "--out", "o"]
EF = ["eigenfaces", "--images", "{faces}", "-k", "3", "--out", "o"]
EF_OOC = ["eigenfaces", "--images", "{faces_npy}", "-k", "3", "--out-of-core", "--out", "o"]
DEAD = ["--scheduler", "tcp://127.0.0.1:9", "--scheduler-timeout", "0.5"]
J = ["jacobian", "--model", "{model_py}:build", "--layer", "3", "--input", "{x_npy}", "-k", "2", "--out", "o"]
FAST = ["--steps", "4", "--t", "0.5"]
DR = ["directions", "--model", "{ddim}", "--seed", "0", "-k", "2", *FAST, "--out", "o"]
DR_IMG = ["directions", "--model", "{ddim}", "--image", "{img}", "-k", "2", *FAST, "--out", "o"]
DS = ["directions", "--model", "{sd}", "--seed", "0", "-k", "2", "--steps", "2", "--t", "0.5", "--out", "o"]
DS_IMG = ["directions", "--model", "{sd}", "--image", "{img}", "-k", "2", "--steps", "2", "--t", "0.5", "--out", "o"]
G = [
    "directions",
    "--model",
    "{ddim}",
    "--images",
    "{faces3}",
    "--global",
    "-k",
    "2",
    *FAST,
    "--no-cache",
    "--out",
    "o",
]
G_CACHED = [a for a in G if a != "--no-cache"]
ED = ["edit", "--model", "{ddim}", "--seed", "0", *FAST, "--strength", "-2,2", "--tol", "0.1", "--out", "o"]
ED_IMG = ["edit", "--model", "{ddim}", "--image", "{img}", *FAST, "--strength", "-2,2", "--tol", "0.1", "--out", "o"]
EDS = ["edit", "--model", "{sd}", "--image", "{img}", "--steps", "2", "--t", "0.5", "--strength", "-2,2", "--out", "o"]
TR = ["transport", "--from", "{img}", "--to", "{img2}", "--model", "{ddim}", "-k", "2", *FAST, "--strength", "-2,2"]
TR = [*TR, "--tol", "0.1", "--out", "o"]
TRS = ["transport", "--from", "{img}", "--to", "{img2}", "--model", "{sd}", "-k", "2", "--steps", "2", "--t", "0.5"]
TRS = [*TRS, "--strength", "-2,2", "--out", "o"]
EV = ["evolution", "--model", "{ddim}", "--image", "{img}", "-k", "2", "--steps", "4", "--t", "0.7,0.4", "--out", "o"]
EVS = ["evolution", "--model", "{sd}", "--image", "{img}", "-k", "2", "--steps", "2", "--t", "0.7,0.4", "--out", "o"]
EVG = ["evolution", "--model", "{ddim}", "--images", "{faces3}", *EV[5:]]
SA = ["sample", "--model", "{ddim}", "--n", "2", "--steps", "2", "--out", "o"]
SS = ["sample", "--model", "{sd}", "--n", "1", "--steps", "2", "--out", "o"]
TF = ["train-faces", "--steps", "2", "--batch-size", "2", "--data", "lfw", "--out", "o"]
DEMO = ["demo", "--out", "o"]
DEMO_DONE = {"sections": [], "seconds": 0.0}  # the demo itself runs in tests/test_demo.py
VIDEO = ["video", "--scene", "projection"]
APP = ["app"]


def _swap(args: list[str], old: str, new: str) -> list[str]:
    """``args`` with the value after option ``old`` replaced (or the word ``old`` itself)."""
    if old in args and old.startswith("-"):
        i = args.index(old)
        return [*args[: i + 1], new, *args[i + 2 :]]
    return [new if a == old else a for a in args]


def _generic(
    base: list[str], *, progress: bool = True, out: bool = True, existing: str = "summary.json"
) -> dict[str, list]:
    """The cases of --out, --force, --json and --quiet for a command run as ``base``."""
    cases: dict[str, list] = {"--json": [Changes(base, [*base, "--json"])]}
    if out:
        cases["--out"] = [Changes(base, _swap(base, "--out", "elsewhere"))]
        cases["--force"] = [Forces(base, existing)]
    cases["--quiet"] = [Quiets(base)] if progress else [Harmless("this command shows no progress to quiet")]
    return cases


CASES: dict[str, dict[str, list]] = {
    "svd": {
        "matrix": [Changes(SVD, _swap(SVD, "2 1; 1 3", "1 2; 3 4"))],
        "--k": [Changes(SVD, [*SVD, "--k", "1"])],
        "--method": [Changes(SVD, [*SVD, "--method", "eig"])],
        "--tol": [Changes(POWER, [*POWER, "--tol", "1e-2"]), Refused([*EXACT, "--tol", "1e-3"], "--tol applies")],
        "--max-iter": [Changes(POWER, [*POWER, "--max-iter", "1"]), Refused([*EXACT, "--max-iter", "3"], "--max-iter")],
        "--seed": [Changes(RAND, [*RAND, "--seed", "1"]), Refused([*EXACT, "--seed", "1"], "--seed seeds")],
        "--key": [
            Changes(["svd", "{npz}", "--key", "a", "--json"], ["svd", "{npz}", "--key", "b", "--json"]),
            Refused([*SVD, "--key", "a"], "--key names an array"),
        ],
        "--json": [Changes(SVD[:-1], SVD)],
        "--quiet": [Harmless("svd shows no progress to quiet")],
    },
    "explain": {
        "matrix": [Changes(EXPLAIN, _swap(EXPLAIN, "2 1; 1 3", "1 2; 3 4"))],
        "--vector": [Changes(EXPLAIN, [*EXPLAIN, "--vector", "1 0"])],
        "--only": [Changes(EXPLAIN, [*EXPLAIN, "--only", "projection"])],
        "--format": [
            Changes(EXPLAIN_OUT, [*EXPLAIN_OUT, "--format", "html"]),
            Refused([*EXPLAIN, "--format", "html"], "--format is the form"),
        ],
        **_generic(EXPLAIN_OUT),
        "--out": [Changes(EXPLAIN, [*EXPLAIN, "--only", "projection", "--out", "o"])],
        "--force": [Forces(EXPLAIN_OUT, "explanation.md"), Refused([*EXPLAIN, "--force"], "--force replaces")],
    },
    "eigenfaces": {
        "--images": [Changes(EF, _swap(EF, "{faces}", "{faces2}"))],
        "--k": [Changes(EF, _swap(EF, "-k", "2"))],
        "--size": [Changes(EF, [*EF, "--size", "8"])],
        "--method": [
            Changes(EF, [*EF, "--method", "krylov"]),
            Refused([*EF_OOC, "--method", "exact"], "--method has no effect with --out-of-core"),
        ],
        "--raw": [Changes(EF, [*EF, "--raw"])],
        "--out-of-core": [Changes(_swap(EF, "{faces}", "{faces_npy}"), EF_OOC)],
        "--chunk-rows": [
            Reaches(EF_OOC, [*EF_OOC, "--chunk-rows", "5"], "svdlens.cli._eigenfaces:fit_out_of_core", "chunk_rows"),
            Refused([*EF, "--chunk-rows", "5"], "--chunk-rows goes with --out-of-core"),
        ],
        "--scheduler": [
            Refused([*EF_OOC, *DEAD], "no dask scheduler answered at tcp://127.0.0.1:9"),
            Refused([*EF, "--scheduler", "tcp://127.0.0.1:9"], "--scheduler goes with --out-of-core"),
        ],
        "--scheduler-timeout": [
            Refused([*EF_OOC, *DEAD], "within 0.5 s"),
            Refused([*EF_OOC, "--scheduler-timeout", "3"], "--scheduler-timeout bounds the wait"),
        ],
        **_generic(EF),
    },
    "jacobian": {
        "--model": [Changes(J, _swap(J, "{model_py}:build", "{model_py}:build2"))],
        "--layer": [Changes(J, _swap(J, "--layer", "1"))],
        "--input": [Changes(J, _swap(J, "{x_npy}", "{x2_npy}"))],
        "--k": [Changes(J, _swap(J, "-k", "3"))],
        "--tol": [Changes(J, [*J, "--tol", "0.3"])],
        "--kwarg": [Changes(J, [*J, "--kwarg", "scale=2"])],
        "--block-size": [Changes(J, [*J, "--block-size", "1"])],
        **_generic(J, progress=True),
    },
    "directions": {
        "--model": [Changes(DR, _swap(DR, "{ddim}", "{ddim2}"))],
        "--prompt": [
            Changes(DS, [*DS, "--prompt", "a face"]),
            Refused([*DR, "--prompt", "a face"], "not a text model"),
        ],
        "--negative-prompt": [
            Changes(DS, [*DS, "--negative-prompt", "blurry"]),
            Refused([*DS_IMG, "--negative-prompt", "blurry"], "--negative-prompt has no effect"),
        ],
        "--guidance": [
            Changes(DS, [*DS, "--guidance", "2"]),
            Refused([*DS_IMG, "--guidance", "2"], "--guidance has no effect here"),
            Refused([*G, "--guidance", "2"], "--guidance has no effect here"),
        ],
        "--layer": [Changes(DR, [*DR, "--layer", "down_blocks.1"])],
        "--device": [Refused([*DR, "--device", "cuda:7"], "cuda")],
        "--dtype": [Changes(DR, [*DR, "--dtype", "bfloat16"])],
        "--image": [Changes(DR_IMG, _swap(DR_IMG, "{img}", "{img2}"))],
        "--seed": [Changes(DR, _swap(DR, "--seed", "1"))],
        "--images": [Changes(G, _swap(G, "{faces3}", "{faces4}"))],
        "--global": [Refused([a for a in G if a != "--global"], "with --global")],
        "--t": [Changes(DR, _swap(DR, "--t", "0.7"))],
        "--k": [Changes(DR, _swap(DR, "-k", "3"))],
        "--tol": [Changes(DR, [*DR, "--tol", "0.5"])],
        "--max-memory": [
            Reaches(DR, [*DR, "--max-memory", "64MB"], "svdlens.diffusion:Pipeline.directions", "max_memory")
        ],
        "--compare-prompt": [
            Changes(DS, [*DS, "--compare-prompt", "a painting"]),
            Refused([*DR, "--compare-prompt", "a painting"], "--compare-prompt"),
        ],
        "--k-local": [Changes(G, [*G, "--k-local", "3"]), Refused([*DR, "--k-local", "3"], "with --global")],
        "--steps": [Changes(DR, _swap(DR, "--steps", "5"))],
        "--scheduler": [
            Refused([*G, *DEAD], "no dask scheduler answered at tcp://127.0.0.1:9"),
            Refused([*DR, "--scheduler", "tcp://127.0.0.1:9"], "with --global"),
        ],
        "--scheduler-timeout": [
            Refused([*G, *DEAD], "within 0.5 s"),
            Refused([*G, "--scheduler-timeout", "3"], "--scheduler-timeout bounds the wait"),
        ],
        "--cache-dir": [Changes(G, [*G_CACHED, "--cache-dir", "c"]), Refused([*DR, "--cache-dir", "c"], "--global")],
        "--cache": [Changes(G, [*G_CACHED, "--cache", "c"])],
        "--no-cache": [Changes(G_CACHED, G)],
        **_generic(DR),
    },
    "edit": {
        "--model": [Changes(ED, _swap(ED, "{ddim}", "{ddim2}"))],
        "--prompt": [Changes(EDS, [*EDS, "--prompt", "a face"]), Refused([*ED, "--prompt", "a face"], "not a text")],
        "--negative-prompt": [
            Changes([*EDS, "--guidance", "2"], [*EDS, "--guidance", "2", "--negative-prompt", "blurry"]),
            Refused([*EDS, "--negative-prompt", "blurry"], "--negative-prompt has no effect"),
        ],
        "--guidance": [Changes(EDS, [*EDS, "--guidance", "2"]), Refused([*ED, "--guidance", "2"], "not a text")],
        "--layer": [Changes(ED, [*ED, "--layer", "down_blocks.1"])],
        "--device": [Refused([*ED, "--device", "cuda:7"], "cuda")],
        "--dtype": [Changes(ED, [*ED, "--dtype", "bfloat16"])],
        "--image": [Changes(ED_IMG, _swap(ED_IMG, "{img}", "{img2}"))],
        "--seed": [Changes(ED, _swap(ED, "--seed", "1"))],
        "--direction": [Changes(ED, [*ED, "--direction", "2"])],
        "--strength": [Changes(ED, _swap(ED, "--strength", "-1,1"))],
        "--t": [Changes(ED, _swap(ED, "--t", "0.7"))],
        "--steps": [Changes(ED, _swap(ED, "--steps", "5"))],
        "--tol": [Changes(ED, _swap(ED, "--tol", "0.5"))],
        "--max-memory": [
            Reaches(ED, [*ED, "--max-memory", "64MB"], "svdlens.diffusion:Pipeline.directions", "max_memory")
        ],
        "--x-guidance": [Changes(ED, [*ED, "--x-guidance", "1"])],
        "--follow": [
            Changes([*ED, "--x-guidance", "2"], [*ED, "--x-guidance", "2", "--follow", "2"]),
            Refused([*ED, "--follow", "2"], "give --x-guidance too"),
            Refused([*ED, "--x-guidance", "1", "--mask", "2,2,10,8", "--follow", "2"], "does not combine with --mask"),
        ],
        "--mask": [
            Changes(ED, [*ED, "--mask", "2,2,10,8"]),
            Refused([*ED, "--mask", "0,0,16,16"], "covers the whole image"),
        ],
        "--r": [
            Changes([*ED, "--mask", "2,2,10,8"], [*ED, "--mask", "2,2,10,8", "--r", "2"]),
            Refused([*ED, "--r", "2"], "--r is the number of outside directions of --mask"),
        ],
        "--outside-weight": [
            Changes([*ED, "--mask", "2,2,10,8"], [*ED, "--mask", "2,2,10,8", "--outside-weight", "4"]),
            Changes(  # μ itself acts, not only the switch to contrast directions
                [*ED, "--mask", "2,2,10,8", "--outside-weight", "4"],
                [*ED, "--mask", "2,2,10,8", "--outside-weight", "64"],
            ),
            Refused([*ED, "--outside-weight", "4"], "--outside-weight prices the outside of --mask"),
            Refused([*ED, "--mask", "2,2,10,8", "--outside-weight", "4", "--r", "2"], "does not combine"),
            Refused([*ED, "--mask", "2,2,10,8", "--outside-weight", "0"], "--outside-weight must be"),
        ],
        **_generic(ED),
    },
    "transport": {
        "--from": [Changes(TR, _swap(TR, "--from", "{img3}"))],
        "--to": [Changes(TR, _swap(TR, "--to", "{img3}"))],
        "--model": [Changes(TR, _swap(TR, "{ddim}", "{ddim2}"))],
        "--prompt": [Changes(TRS, [*TRS, "--prompt", "a face"]), Refused([*TR, "--prompt", "a face"], "not a text")],
        "--negative-prompt": [
            Changes([*TRS, "--guidance", "2"], [*TRS, "--guidance", "2", "--negative-prompt", "blurry"]),
            Refused([*TRS, "--negative-prompt", "blurry"], "--negative-prompt has no effect"),
        ],
        "--guidance": [Changes(TRS, [*TRS, "--guidance", "2"]), Refused([*TR, "--guidance", "2"], "not a text")],
        "--layer": [Changes(TR, [*TR, "--layer", "down_blocks.1"])],
        "--device": [Refused([*TR, "--device", "cuda:7"], "cuda")],
        "--dtype": [Changes(TR, [*TR, "--dtype", "bfloat16"])],
        "--direction": [Changes(TR, [*TR, "--direction", "2"])],
        "--strength": [Changes(TR, _swap(TR, "--strength", "-1,1"))],
        "--t": [Changes(TR, _swap(TR, "--t", "0.7"))],
        "--k": [Changes(TR, _swap(TR, "-k", "3"))],
        "--steps": [Changes(TR, _swap(TR, "--steps", "5"))],
        "--tol": [Changes(TR, _swap(TR, "--tol", "0.5"))],
        "--max-memory": [
            Reaches(TR, [*TR, "--max-memory", "64MB"], "svdlens.diffusion:Pipeline.directions", "max_memory")
        ],
        "--method": [Changes(TR, [*TR, "--method", "lsqr"])],
        "--damp": [
            Changes([*TR, "--method", "lsqr"], [*TR, "--method", "lsqr", "--damp", "0.5"]),
            Refused([*TR, "--damp", "0.5"], "--damp is the damping of --method lsqr"),
        ],
        **_generic(TR),
    },
    "evolution": {
        "--model": [Changes(EV, _swap(EV, "{ddim}", "{ddim2}"))],
        "--prompt": [Changes(EVS, [*EVS, "--prompt", "a face"]), Refused([*EV, "--prompt", "a face"], "not a text")],
        "--negative-prompt": [
            Refused([*EVS, "--negative-prompt", "blurry"], "--negative-prompt has no effect"),
            Refused([*EVS, "--prompt", "a face", "--negative-prompt", "blurry"], "--negative-prompt has no effect"),
        ],
        "--guidance": [
            Refused([*EVS, "--guidance", "2"], "--guidance has no effect here"),
            Refused([*EV, "--guidance", "2"], "--guidance has no effect here"),
        ],
        "--layer": [Changes(EV, [*EV, "--layer", "down_blocks.1"])],
        "--device": [Refused([*EV, "--device", "cuda:7"], "cuda")],
        "--dtype": [Changes(EV, [*EV, "--dtype", "bfloat16"])],
        "--image": [
            Changes(EV, _swap(EV, "{img}", "{img2}")),
            Changes(EV, [*EV, "--image", "{img2}"]),
            Refused([*EV, "--images", "{faces3}"], "not both"),
        ],
        "--images": [Changes(EVG, _swap(EVG, "{faces3}", "{faces4}"))],
        "--t": [Changes(EV, _swap(EV, "--t", "0.8,0.4")), Refused(_swap(EV, "--t", "0.4"), "--t needs 2 to")],
        "--k": [Changes(EV, _swap(EV, "-k", "3"))],
        "--steps": [Changes(EV, _swap(EV, "--steps", "5"))],
        "--cold": [Changes(EV, [*EV, "--cold"])],
        "--tol": [Changes(EV, [*EV, "--tol", "0.5"])],
        "--max-memory": [
            Reaches(EV, [*EV, "--max-memory", "64MB"], "svdlens.diffusion:Pipeline.basis_evolution", "max_memory")
        ],
        **_generic(EV),
    },
    "sample": {
        "--model": [Changes(SA, _swap(SA, "{ddim}", "{ddim2}"))],
        "--prompt": [Changes(SS, [*SS, "--prompt", "a face"]), Refused([*SA, "--prompt", "a face"], "not a text")],
        "--negative-prompt": [
            Changes(SS, [*SS, "--negative-prompt", "blurry"]),
            Refused([*SS, "--guidance", "1", "--negative-prompt", "blurry"], "--negative-prompt has no effect"),
        ],
        "--guidance": [Changes(SS, [*SS, "--guidance", "2"]), Refused([*SA, "--guidance", "2"], "not a text")],
        "--device": [Refused([*SA, "--device", "cuda:7"], "cuda")],
        "--dtype": [Changes(SA, [*SA, "--dtype", "bfloat16"])],
        "--n": [Changes(SA, _swap(SA, "--n", "3"))],
        "--seed": [Changes(SA, [*SA, "--seed", "1"])],
        "--steps": [Changes(SA, _swap(SA, "--steps", "3"))],
        "--eta": [Changes(SA, [*SA, "--eta", "1"])],
        "--max-memory": [
            Reaches(SA, [*SA, "--max-memory", "64MB"], "svdlens.cli._sample:Pipeline.sample", "max_memory")
        ],
        **_generic(SA),
    },
    "train-faces": {
        "--data": [Changes(TF, _swap(TF, "--data", "world"))],
        "--steps": [Changes(TF, _swap(TF, "--steps", "3"))],
        "--batch-size": [Changes(TF, _swap(TF, "--batch-size", "3"))],
        "--lr": [Changes(TF, [*TF, "--lr", "1e-3"])],
        "--seed": [Changes(TF, [*TF, "--seed", "1"])],
        "--minutes": [Reaches(TF, [*TF, "--minutes", "5"], "svdlens.cli._train:train_faces", "time_limit_s")],
        "--resume": [Changes(TF, [*TF, "--resume", "{trained}"])],
        "--timesteps": [
            Changes(TF, [*TF, "--timesteps", "900:1000"]),
            Refused([*TF, "--timesteps", "900"], "LOW:HIGH"),
            Refused([*TF, "--timesteps", "10:5"], "high end"),
        ],
        "--timestep-share": [
            Changes([*TF, "--timesteps", "900:1000"], [*TF, "--timesteps", "900:1000", "--timestep-share", "0.5"]),
            Refused([*TF, "--timestep-share", "0.5"], "give --timesteps"),
            Refused([*TF, "--timesteps", "900:1000", "--timestep-share", "1.5"], "--timestep-share"),
        ],
        "--layers-per-block": [
            Changes(TF, [*TF, "--layers-per-block", "2"]),
            Refused([*TF, "--layers-per-block", "0"], "--layers-per-block"),
            Refused([*TF, "--layers-per-block", "2", "--resume", "{trained}"], "layers_per_block=1, not 2"),
        ],
        "--widths": [
            Changes(TF, [*TF, "--widths", "32,32,64"]),
            Refused([*TF, "--widths", "32,64"], "3 whole numbers"),
            Refused([*TF, "--widths", "32,x,64"], "--widths takes"),
            Refused([*TF, "--widths", "32,64,48"], "multiple of 32"),
            Refused([*TF, "--widths", "32,32,64", "--resume", "{trained}"], "widths=[32, 64, 64], not [32, 32, 64]"),
        ],
        "--loss-weight": [
            Changes(TF, [*TF, "--loss-weight", "v"]),
            Refused([*TF, "--loss-weight", "x0"], "--loss-weight"),
        ],
        "--like": [
            Changes(TF, ["train-faces", "--like", "{trained}", "--out", "o"]),
            Refused([*TF, "--like", "builtin"], "leave out --data, --steps, --batch-size"),
        ],
        **_generic(TF, existing="training.json"),
    },
    "demo": {
        "--fast": [Reaches(DEMO, [*DEMO, "--fast"], "svdlens.cli._demo:run_demo", "fast", DEMO_DONE)],
        "--model": [Reaches(DEMO, [*DEMO, "--model", "{ddim}"], "svdlens.cli._demo:run_demo", "model", DEMO_DONE)],
        "--cache-dir": [
            Reaches(DEMO, [*DEMO, "--cache-dir", "c"], "svdlens.cli._demo:run_demo", "cache_dir", DEMO_DONE)
        ],
        "--video": [Reaches(DEMO, [*DEMO, "--video"], "svdlens.cli._demo:run_demo", "video", DEMO_DONE)],
        "--open": [Reaches(DEMO, [*DEMO, "--open"], "webbrowser:open", "url", True)],
        "--out": [Reaches(DEMO, _swap(DEMO, "--out", "elsewhere"), "svdlens.cli._demo:run_demo", "out", DEMO_DONE)],
        "--force": [Reaches(DEMO, [*DEMO, "--force"], "svdlens.cli._demo:run_demo", "force", DEMO_DONE)],
        "--json": [Reaches(DEMO, [*DEMO, "--json"], "svdlens.cli._demo:run_demo", "progress", DEMO_DONE)],
        "--quiet": [Reaches(DEMO, [*DEMO, "--quiet"], "svdlens.cli._demo:run_demo", "progress", DEMO_DONE)],
    },
    "video": {  # rendering is tested in tests/test_video.py; here, that each flag reaches it
        "--scene": [Reaches(VIDEO, _swap(VIDEO, "--scene", "eigenvectors"), "svdlens.video:render", "names", [])],
        "--quality": [Reaches(VIDEO, [*VIDEO, "--quality", "high"], "svdlens.video:render", "quality", [])],
        "--matrix": [
            Reaches(VIDEO, [*VIDEO, "--matrix", "2 1; 1 3"], "svdlens.video:render", "matrix", []),
            Refused(["video", "--scene", "puzzle", "--matrix", "2 1; 1 3"], "--matrix is drawn by the matrix scenes"),
        ],
        "--list": [Changes(["video", "--list", "--json"], ["video", "--list"])],
        "--out": [
            Reaches(VIDEO, [*VIDEO, "--out", "elsewhere"], "svdlens.video:render", "out", []),
            Refused(["video", "--list", "--out", "o"], "--out has no effect with --list"),
        ],
        "--force": [Reaches(VIDEO, [*VIDEO, "--force"], "svdlens.video:render", "force", [])],
        "--json": [Changes(["video", "--list"], ["video", "--list", "--json"])],
        "--quiet": [Reaches(VIDEO, [*VIDEO, "--quiet"], "svdlens.video:render", "progress", [])],
    },
    "app": {  # serving is tested in tests/test_app.py; here, that each flag reaches the server
        "--host": [
            Reaches(APP, [*APP, "--host", "::1"], "svdlens.app:launch", "host", None, ("svdlens.app:build_app",))
        ],
        "--port": [
            Reaches(APP, [*APP, "--port", "8123"], "svdlens.app:launch", "port", None, ("svdlens.app:build_app",))
        ],
        "--model": [
            Reaches(APP, [*APP, "--model", "{ddim}"], "svdlens.app:build_app", "model", None, ("svdlens.app:launch",))
        ],
    },
    "bench": {
        "name": [Reaches(["bench"], ["bench", "faces"], "subprocess:call", "popenargs", 0)],
        "--quick": [Reaches(["bench"], ["bench", "--quick"], "subprocess:call", "popenargs", 0)],
    },
}


# ----------------------------------------------------------------------------- inputs
MODEL_PY = """
import torch
class Scaled(torch.nn.Sequential):
    def forward(self, x, scale=1.0):
        return super().forward(x * scale)
def _net(seed):
    torch.manual_seed(seed)
    return Scaled(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.GroupNorm(2, 4), torch.nn.SiLU(),
                  torch.nn.Conv2d(4, 2, 3, stride=2, padding=1))
def build():
    return _net(0)
def build2():
    return _net(1)
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    paths: dict[str, str] = {}
    np.save(root / "mat.npy", rng.standard_normal((30, 20)))
    np.savez(root / "m.npz", a=rng.standard_normal((3, 3)), b=rng.standard_normal((3, 3)))
    paths |= {"mat": str(root / "mat.npy"), "npz": str(root / "m.npz")}
    for name, n in (("faces", 12), ("faces2", 12), ("faces3", 2), ("faces4", 2)):
        folder = root / name
        folder.mkdir()
        for i in range(n):
            pixels = (rng.random((16, 16)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:02d}.png")
        paths[name] = str(folder)
    np.save(root / "faces.npy", rng.random((12, 16, 16)))
    paths["faces_npy"] = str(root / "faces.npy")
    for name in ("img", "img2", "img3"):
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(root / f"{name}.png")
        paths[name] = str(root / f"{name}.png")
    (root / "m.py").write_text(MODEL_PY)
    np.save(root / "x.npy", rng.random((1, 1, 10, 10)).astype(np.float32))
    np.save(root / "x2.npy", rng.random((1, 1, 10, 10)).astype(np.float32))
    paths |= {"model_py": str(root / "m.py"), "x_npy": str(root / "x.npy"), "x2_npy": str(root / "x2.npy")}
    paths["ddim"] = str(tiny_ddim(root / "ddim", seed=0))
    paths["ddim2"] = str(tiny_ddim(root / "ddim2", seed=1))
    paths["sd"] = str(tiny_stable_diffusion(root / "sd"))
    trained = root / "trained"
    result = CliRunner().invoke(app, ["train-faces", "--steps", "1", "--batch-size", "2", "--data", "lfw"] + [
        "--out", str(trained), "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    paths["trained"] = str(trained)
    return paths


# ----------------------------------------------------------------------------- running
_TIMING = re.compile(r"\d+(\.\d+)?\s*s\b")


def _summary(text: str) -> str:
    data = json.loads(text)

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not (k.startswith("seconds") or k.endswith("_s"))}
        return [strip(v) for v in value] if isinstance(value, list) else value

    return json.dumps(strip(data), sort_keys=True)


def _stdout(text: str) -> str:
    try:
        return _summary(text)
    except ValueError:
        return _TIMING.sub("<time>", text)


def _run(args: list[str], inputs: dict, root: Path, monkeypatch) -> Run:
    """Run ``args`` in a fresh folder ``root`` (the working folder and the cache home)."""
    root.mkdir(parents=True)
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "cache-home"))
    result = CliRunner().invoke(app, [a.format(**inputs) for a in args])
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = str(path.relative_to(root))
        if name.startswith(("cache-home/", "c/")):  # a cache entry (or matplotlib's): that it is there
            files[name] = "cached"
            continue
        data = path.read_bytes().replace(str(root).encode(), b"<root>")
        if path.name in ("summary.json", "training.json", "checkpoint.json"):
            files[name] = _summary(data.decode())
        else:
            files[name] = hashlib.sha1(data).hexdigest()
    return Run(result.exit_code, _stdout(result.stdout.replace(str(root), "<root>")), files, result.output)


_RUNS: dict[tuple, Run] = {}


def _cached(args: list[str], inputs: dict, tmp_path_factory, monkeypatch) -> Run:
    key = tuple(args)
    if key not in _RUNS:
        _RUNS[key] = _run(args, inputs, tmp_path_factory.mktemp("run") / "w", monkeypatch)
        assert _RUNS[key].code == 0, f"{args} failed: {_RUNS[key].output}"
    return _RUNS[key]


def _all_cases():
    for command, options in CASES.items():
        for option, cases in options.items():
            for i, case in enumerate(cases):
                yield pytest.param(command, option, case, id=f"{command} {option} {type(case).__name__} {i}")


# ----------------------------------------------------------------------------- the tests
def test_every_option_of_every_command_has_a_case():
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    missing = []
    for name, command in commands.items():
        assert name in CASES, f"svdlens {name} has no cases"
        for param in command.params:
            if param.hidden:
                option = next(o for o in param.opts if o.startswith("--"))
            else:
                option = next((o for o in param.opts if o.startswith("--")), param.name)
            if option not in CASES[name]:
                missing.append(f"{name} {option}")
    assert not missing, f"options with no case: {missing}"
    assert set(commands) == set(CASES)


@pytest.mark.parametrize("command, option, case", list(_all_cases()))
def test_the_option_shows(command, option, case, inputs, tmp_path, tmp_path_factory, monkeypatch):
    if command == "video":
        pytest.importorskip("manim", reason="the video extra is not installed")
    if command == "app":
        pytest.importorskip("gradio", reason="the app extra is not installed")
    if isinstance(case, Harmless):
        assert case.why
    elif isinstance(case, Changes):
        base = _cached(case.base, inputs, tmp_path_factory, monkeypatch)
        if (tuple(case.base), "again") not in _RUNS:  # each base once more: the runs are deterministic
            again = _run(case.base, inputs, tmp_path / "again", monkeypatch)
            assert (again.stdout, again.files) == (base.stdout, base.files), f"{case.base} is not deterministic"
            _RUNS[(tuple(case.base), "again")] = again
        changed = _cached(case.changed, inputs, tmp_path_factory, monkeypatch)
        assert (changed.stdout, changed.files) != (base.stdout, base.files), f"{option} changed nothing"
    elif isinstance(case, Refused):
        run = _run(case.args, inputs, tmp_path / "w", monkeypatch)
        text = " ".join(run.output.split())
        assert run.code == 2 and case.words in text and text.count("error:") == 1, run.output
        assert "Traceback" not in text and not any(name.startswith("o/") for name in run.files)
    elif isinstance(case, Reaches):
        base = _spy(case.base, case, inputs, tmp_path / "base", monkeypatch)
        changed = _spy(case.changed, case, inputs, tmp_path / "changed", monkeypatch)
        assert base != changed, f"{option} did not reach {case.target}"
    elif isinstance(case, Quiets):
        loud = _stderr(case.args, inputs, tmp_path / "loud", monkeypatch)
        quiet = _stderr([*case.args, "--quiet"], inputs, tmp_path / "quiet", monkeypatch)
        assert loud.strip() and not quiet.strip(), (loud, quiet)
    elif isinstance(case, Forces):
        root = tmp_path / "w"
        out = root / case.args[case.args.index("--out") + 1]
        out.mkdir(parents=True)
        (out / case.existing).write_text("the user's own")
        monkeypatch.chdir(root)
        refused = CliRunner().invoke(app, [a.format(**inputs) for a in case.args])
        assert refused.exit_code == 2 and "svdlens did not write it" in " ".join(refused.output.split())
        assert (out / case.existing).read_text() == "the user's own"
        forced = CliRunner().invoke(app, [a.format(**inputs) for a in [*case.args, "--force"]])
        assert forced.exit_code == 0, forced.output
        assert (out / case.existing).read_text() != "the user's own"


def _stderr(args, inputs, root: Path, monkeypatch) -> str:
    """stderr of a run whose progress goes to a terminal (rich shows nothing otherwise)."""
    import io

    import svdlens.cli._main as main

    buffer = io.StringIO()
    monkeypatch.setattr(main, "err_console", Console(file=buffer, force_terminal=True, width=100))
    root.mkdir(parents=True)
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, [a.format(**inputs) for a in args])
    assert result.exit_code == 0, result.output
    return buffer.getvalue()


def _spy(args, case: Reaches, inputs, root: Path, monkeypatch):
    """The value of ``case.keyword`` in the call of ``case.target`` that a run of ``args`` makes."""
    import importlib
    import inspect

    module_name, attribute = case.target.split(":")
    owner = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    real = getattr(owner, name)
    seen: list = []

    def spy(*a, **kw):
        bound = inspect.signature(real).bind_partial(*a, **kw).arguments
        seen.append(repr(bound.get(case.keyword, "<not given>")))
        return real(*a, **kw) if case.stub == "call through" else case.stub

    monkeypatch.setattr(owner, name, spy)
    for other in case.also:
        monkeypatch.setattr(other.replace(":", "."), lambda *a, **kw: None)
    if case.target == "webbrowser:open":  # the demo's --open: the report need not exist
        monkeypatch.setattr("svdlens.cli._demo.run_demo", lambda *a, **kw: DEMO_DONE)
    run = _run(args, inputs, root, monkeypatch)
    monkeypatch.undo()
    assert run.code == 0, run.stdout
    return [s.replace(str(root), "<root>") for s in seen]


def test_the_max_pixels_option_of_every_command_acts_and_does_not_leak(inputs, tmp_path, monkeypatch):
    from svdlens import _defaults

    root_params = [o for p in typer.main.get_command(app).params for o in p.opts]
    assert root_params == ["--max-pixels"]  # the only option of svdlens itself; a new one needs a case here
    run = _run(["--max-pixels", "100", *EF], inputs, tmp_path / "small", monkeypatch)
    assert run.code == 2 and "more than the limit of 100" in " ".join(run.output.split()), run.output
    assert _defaults.max_pixels() == _defaults.MAX_PIXELS  # scoped to that command: nothing global changed
    assert _run(["--max-pixels", "256", *EF], inputs, tmp_path / "fits", monkeypatch).code == 0

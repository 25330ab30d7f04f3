"""The factor oracle: a small CNN that reads the face world's factors back from an image.

It is what turns an edit into a measurement: render (or generate) an image, move it, and read
how much each named factor changed. It is trained on an endless stream of rendered faces
(:mod:`svdlens.faces.world`), with mild noise and blur added so that it also reads the slightly
soft images a diffusion model generates, and it predicts every factor at once (standardised by
its spread; :meth:`FactorOracle.predict` returns them in the factors' own units).

Its quality is the coefficient of determination R² per factor on held-out renders
(:meth:`FactorOracle.score`, as scikit-learn's ``r2_score`` with ``multioutput="raw_values"``).
The shipped oracle's figures are in its record, ``oracle.json``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._atomic import staged_output
from .._progress import Progress, report
from .._validation import check_float, check_int
from ..exceptions import InvalidParameterError, ModelLoadError
from . import world

__all__ = ["FactorOracle", "oracle", "train_oracle", "ORACLE_DIR", "r2_scores"]

ORACLE_DIR = Path(__file__).resolve().parent / "oracle"
"""Where the shipped oracle lives (``oracle.safetensors`` and its record ``oracle.json``)."""

_BATCH = 256  # images per forward pass in predict()


def _network(n_out: int) -> torch.nn.Module:
    """Five stride-2 convolutions (64 → 2 pixels) and two linear layers: about 0.5 M parameters."""

    def block(c_in: int, c_out: int, stride: int) -> list[torch.nn.Module]:
        return [torch.nn.Conv2d(c_in, c_out, 3, stride, 1), torch.nn.GroupNorm(8, c_out), torch.nn.GELU()]

    return torch.nn.Sequential(
        *block(1, 32, 1),
        *block(32, 32, 2),
        *block(32, 64, 2),
        *block(64, 64, 2),
        *block(64, 128, 2),
        *block(128, 128, 2),
        torch.nn.Flatten(),
        torch.nn.Linear(128 * 2 * 2, 256),
        torch.nn.GELU(),
        torch.nn.Linear(256, n_out),
    )


def r2_scores(truth: ArrayLike, predicted: ArrayLike) -> np.ndarray:
    """R² of each column: ``1 − Σ(y − ŷ)² / Σ(y − ȳ)²`` (scikit-learn's ``r2_score``, raw values).

    Parameters
    ----------
    truth, predicted : array_like
        ``(n, F)``.

    Returns
    -------
    numpy.ndarray
        ``(F,)``.

    Examples
    --------
    >>> r2_scores([[0.0], [1.0], [2.0]], [[0.0], [1.0], [2.5]]).round(3).tolist()
    [0.875]
    """
    y, p = np.asarray(truth, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    return 1.0 - ((y - p) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)


class FactorOracle:
    """Predicts the face world's factors from images.

    Parameters
    ----------
    network : torch.nn.Module, optional
        The trained CNN (default: a fresh, untrained one).
    record : dict, optional
        Its training record (settings, held-out R²).

    Attributes
    ----------
    names : tuple of str
        The factors it predicts, in the order of :data:`svdlens.faces.world.FACTORS`.
    record : dict
        How it was trained and its held-out R² per factor.

    Examples
    --------
    >>> from svdlens.faces import world
    >>> f = world.sample_factors(200, seed=123)
    >>> r2 = world.oracle().score(world.render(f), f)
    >>> bool(r2.min() > 0.9)
    True
    """

    def __init__(self, network: torch.nn.Module | None = None, record: dict | None = None) -> None:
        self.names = world.NAMES
        self.network = (network or _network(len(self.names))).eval().requires_grad_(False)
        self.record = record or {}
        self._mid = torch.tensor([(f.low + f.high) / 2 for f in world.FACTORS], dtype=torch.float32)
        self._spread = torch.tensor(world.spread(), dtype=torch.float32)

    def __repr__(self) -> str:
        r2 = self.record.get("heldout_r2")
        worst = f", held-out R² ≥ {min(r2.values()):.3f}" if r2 else ""
        return f"FactorOracle({len(self.names)} factors{worst})"

    def predict(self, images: ArrayLike | torch.Tensor) -> np.ndarray:
        """The factors of each image, in the factors' own units.

        Parameters
        ----------
        images : array_like or torch.Tensor
            ``(n, 64, 64)`` (or ``(n, 1, 64, 64)``) grayscale images in [0, 1].

        Returns
        -------
        numpy.ndarray
            ``(n, F)`` float64.

        Raises
        ------
        InvalidParameterError
            Images of another size or shape, or not finite.
        """
        x = readable_images(images)
        if len(x) == 0:
            return np.empty((0, len(self.names)))
        with torch.no_grad():
            z = torch.cat([self.network(x[i : i + _BATCH, None] * 2 - 1) for i in range(0, len(x), _BATCH)])
        return (z * self._spread + self._mid).double().numpy()

    def score(self, images: ArrayLike | torch.Tensor, factors: ArrayLike) -> np.ndarray:
        """R² per factor of the predictions for ``images`` against their true ``factors``.

        Parameters
        ----------
        images : array_like or torch.Tensor
            As :meth:`predict` takes them.
        factors : array_like
            ``(n, F)`` the factors they were rendered from.

        Returns
        -------
        numpy.ndarray
            ``(F,)`` R² (1 is perfect; 0 is no better than the mean).
        """
        return r2_scores(world.factors_of(factors), self.predict(images))

    def save(self, folder: str | Path, *, force: bool = False) -> Path:
        """Write ``oracle.safetensors`` and ``oracle.json`` into ``folder`` (whole or nothing).

        Parameters
        ----------
        folder : str or pathlib.Path
            The folder to write.
        force : bool
            Replace files svdlens did not write.

        Returns
        -------
        pathlib.Path
            The folder.
        """
        from safetensors.torch import save_file

        with staged_output(folder, force=force) as stage:
            state = {k: v.contiguous() for k, v in self.network.state_dict().items()}
            save_file(state, str(stage / "oracle.safetensors"))
            (stage / "oracle.json").write_text(json.dumps(self.record, indent=2))
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path = ORACLE_DIR) -> FactorOracle:
        """An oracle written by :meth:`save` (default: the shipped one).

        Parameters
        ----------
        folder : str or pathlib.Path
            The folder with ``oracle.safetensors`` and ``oracle.json``.

        Returns
        -------
        FactorOracle

        Raises
        ------
        ModelLoadError
            The files are missing or do not fit the network.
        """
        from safetensors.torch import load_file

        folder = Path(folder)
        weights = folder / "oracle.safetensors"
        if not weights.is_file():
            raise ModelLoadError(
                f"no factor oracle in {folder} (oracle.safetensors is missing); reinstall svdlens or train one with "
                "svdlens.faces.train_oracle"
            )
        network = _network(len(world.FACTORS))
        try:
            network.load_state_dict(load_file(str(weights)))
        except (RuntimeError, OSError, ValueError) as err:
            raise ModelLoadError(f"{weights} does not fit the factor oracle's network: {err}") from None
        record_file = folder / "oracle.json"
        record = json.loads(record_file.read_text()) if record_file.is_file() else {}
        return cls(network, record)


def readable_images(images: ArrayLike | torch.Tensor) -> torch.Tensor:
    """Images as the oracle reads them: ``(n, 64, 64)`` float32 on the CPU, checked.

    Takes ``(n, 64, 64)``, ``(n, 1, 64, 64)`` or ``(64, 64)``, arrays or tensors (any device,
    with or without grad).

    Raises
    ------
    InvalidParameterError
        Images of another size or shape, or not finite.
    """
    x = torch.as_tensor(np.asarray(images, dtype=np.float32) if not isinstance(images, torch.Tensor) else images)
    x = x.detach().float().cpu()
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or tuple(x.shape[1:]) != (world.SIZE, world.SIZE):
        raise InvalidParameterError(
            f"the oracle reads (n, {world.SIZE}, {world.SIZE}) grayscale images; got shape {tuple(x.shape)}"
        )
    if not bool(torch.isfinite(x).all()):
        raise InvalidParameterError("images contain NaN or Inf")
    return x


_SHIPPED: list[FactorOracle] = []


def oracle() -> FactorOracle:
    """The shipped factor oracle, loaded once per process.

    Returns
    -------
    FactorOracle
    """
    if not _SHIPPED:
        _SHIPPED.append(FactorOracle.load())
    return _SHIPPED[0]


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mild blur and noise, so the oracle also reads a diffusion model's softer images."""
    n = len(x)
    sigma = torch.rand(n, generator=gen) * 0.9  # blur in pixels, 0 to 0.9
    r = torch.arange(-2, 3, dtype=torch.float32)
    k = torch.exp(-(r[None] ** 2) / (2 * sigma[:, None].clamp_min(1e-3) ** 2))
    k = k / k.sum(1, keepdim=True)
    pad = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate")
    # a separable per-image blur, as a grouped convolution
    rows = torch.nn.functional.conv2d(pad.transpose(0, 1), k[:, None, None, :], groups=n).transpose(0, 1)
    x = torch.nn.functional.conv2d(rows.transpose(0, 1), k[:, None, :, None], groups=n).transpose(0, 1)
    noise = torch.randn(x.shape, generator=gen) * (torch.rand(n, 1, 1, 1, generator=gen) * 0.06)
    return x + noise


def train_oracle(
    out: str | Path | None = None,
    *,
    steps: int = 6000,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    heldout: int = 2000,
    progress: Progress = None,
    force: bool = False,
) -> FactorOracle:
    """Train a factor oracle on the face world's endless stream; report its held-out R².

    AdamW with a cosine decay, mean squared error on the standardised factors. Batch ``i`` is
    rendered from the seed ``(seed, i)``; the held-out set from another stream (``seed + 1``),
    never seen in training. The defaults are the shipped oracle's (its ``oracle.json``):
    ``train_oracle("out/oracle")`` trains it again (1.5 h on 2 CPU cores).

    Parameters
    ----------
    out : str or pathlib.Path, optional
        Where to save it (:meth:`FactorOracle.save`); nothing is written when None.
    steps : int
        Optimiser steps.
    batch_size : int
        Images per step.
    lr : float
        Peak learning rate.
    seed : int
        Seed of the weights and the stream.
    heldout : int
        Held-out images for the R² in the record.
    progress : callable, optional
        ``progress(step, steps, label)``.
    force : bool
        Replace files in ``out`` that svdlens did not write.

    Returns
    -------
    FactorOracle
        With ``record["heldout_r2"]``: R² per factor on the held-out renders.
    """
    steps = check_int("steps", steps, high=1_000_000)
    batch_size = check_int("batch_size", batch_size, high=4096)
    lr = check_float("lr", lr, low=0.0, low_open=True)
    heldout = check_int("heldout", heldout, low=10, high=100_000)
    seed = check_int("seed", seed, low=0)
    torch.manual_seed(seed)
    net = _network(len(world.FACTORS))
    fit = FactorOracle(net)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    net.train().requires_grad_(True)
    losses: list[float] = []
    for step in range(1, steps + 1):
        f = world.sample_factors(batch_size, seed=(seed, step))
        x = torch.from_numpy(world.render(f))[:, None]
        x = _augment(x, gen) * 2 - 1
        z = (torch.from_numpy(f).float() - fit._mid) / fit._spread
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = torch.nn.functional.mse_loss(net(x), z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        report(progress, step, steps, f"loss {losses[-1]:.4f}")
    net.eval().requires_grad_(False)
    f = world.sample_factors(heldout, seed=(seed + 1, 0))
    r2 = fit.score(world.render(f), f)
    record: dict[str, Any] = {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "final_loss_mean_last_100": float(np.mean(losses[-100:])),
        "heldout_images": heldout,
        "heldout_r2": dict(zip(world.NAMES, r2.round(5).tolist())),
        "parameters": sum(p.numel() for p in net.parameters()),
        "torch": torch.__version__,
    }
    fit.record = record
    if out is not None:
        fit.save(out, force=force)
    return fit

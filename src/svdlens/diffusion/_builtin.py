"""The built-in DDPMs: where their weights live, their architectures and their training data.

Two models ship in the package, each a diffusers folder (safetensors, configs, training.json):

- ``"builtin"``, the face-world model: a ``UNet2DModel`` (1 channel, 64×64) trained on an endless
  stream of faces rendered by :mod:`svdlens.faces.world`, so that no image is seen twice and
  every image's factors are known.
- ``"builtin-lfw"``, the real-face model: 1 channel, 32×32, trained on the 100 built-in faces
  (scikit-image's LFW subset), resized and mirrored. It memorises them (docs/diffusion.md).

Loading needs only :data:`BUILTINS`; training (:func:`svdlens.diffusion.train_faces`) builds the
networks and data from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "BUILTINS",
    "BUILTIN_DIR",
    "builtin_folder",
    "BuiltinModel",
    "build_unet",
    "builtin_unet_config",
    "build_scheduler",
    "face_images",
    "world_batch",
    "start_face",
]

_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BuiltinModel:
    """One built-in model: its folder, image size and what it was trained on."""

    name: str
    folder: Path
    size: int
    data: str
    unet: Callable[[], dict]

    @property
    def weights(self) -> Path:
        """Its safetensors file."""
        return self.folder / "diffusion_pytorch_model.safetensors"


def _world_unet() -> dict:
    # Sized for 2 CPU cores (measured: 0.77 s per step of 16 images on 2 threads, 2.7 M parameters,
    # 0.23 s per forward pass of 16): few channels at 64×64, where most of the cost is; attention only at 8×8.
    return dict(
        sample_size=64,
        block_out_channels=(16, 32, 64, 128),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )


def _lfw_unet() -> dict:
    # Sized for 2 CPU cores (measured: 0.21 s per step of 16 images, 1.1 M parameters, 4.5 MB);
    # attention only at 8×8, where it is cheap.
    return dict(
        sample_size=32,
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=16,
    )


BUILTINS: dict[str, BuiltinModel] = {
    "builtin": BuiltinModel("builtin", _HERE / "builtin", 64, "world", _world_unet),
    "builtin-lfw": BuiltinModel("builtin-lfw", _HERE / "builtin-lfw", 32, "lfw", _lfw_unet),
}
"""The built-in models by the name :func:`svdlens.diffusion.load` takes."""

BUILTIN_DIR = BUILTINS["builtin"].folder
"""The folder of the default built-in model (the face world)."""


def builtin_folder(source: object) -> Path | None:
    """The folder of a built-in model named ``source`` (``"builtin"``, ``"builtin-lfw"``), else None."""
    spec = BUILTINS.get(source) if isinstance(source, str) else None
    return None if spec is None else spec.folder


ATTENTION_HEAD_DIM = 32
"""The channels of each attention head in the built-in U-Nets."""


def build_unet(data: str = "world", layers_per_block: int | None = None, widths: tuple[int, ...] | None = None):
    """A fresh ``UNet2DModel`` of the built-in architecture for ``data`` ("world" or "lfw").

    ``layers_per_block`` (ResNet layers in each down block; up blocks have one more) replaces
    the built-in's, for a deeper network of the same widths; ``widths`` (the channels of each
    block, ``block_out_channels``) replaces its widths.
    """
    from diffusers import UNet2DModel

    config = builtin_unet_config(data)
    if layers_per_block is not None:
        config["layers_per_block"] = layers_per_block
    if widths is not None:
        config["block_out_channels"] = tuple(widths)
    return UNet2DModel(in_channels=1, out_channels=1, attention_head_dim=ATTENTION_HEAD_DIM, **config)


def builtin_unet_config(data: str = "world") -> dict:
    """The ``UNet2DModel`` settings of the built-in model trained on ``data`` (besides its channels and heads)."""
    return next(m for m in BUILTINS.values() if m.data == data).unet()


def build_scheduler():
    """The training schedule of both built-in models: 1000 steps, cosine (squaredcos_cap_v2), ε-prediction."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="epsilon")


def face_images(size: int = 32) -> torch.Tensor:
    """The 100 built-in faces resized to ``size``², plus their mirror images, in [−1, 1]: (200, 1, size, size)."""
    from skimage.transform import resize

    from ..faces import builtin

    X = np.stack([resize(f, (size, size), anti_aliasing=True) for f in builtin("faces")])
    X = np.concatenate([X, X[:, :, ::-1]])
    return torch.from_numpy(np.ascontiguousarray(X * 2 - 1)).float()[:, None]


def world_batch(n: int, seed: int, step: int, size: int = 64) -> torch.Tensor:
    """Batch ``step`` of the endless face-world stream of ``seed``: (n, 1, size, size) in [−1, 1].

    Each batch is drawn from its own seed ``(seed, step)``, so a run resumed at any step sees
    the same images as one that was never stopped, and no image is drawn twice.
    """
    from ..faces import world

    images = world.render(world.sample_factors(n, seed=(seed, step)), size=size)
    return torch.from_numpy(images * 2 - 1)[:, None]


def start_face(model: str, which: int | str) -> np.ndarray:
    """The face a run on ``model`` starts from by default, chosen by index (or by name on the face world).

    The face-world model (``"builtin"``) starts from the world's gallery, where every factor is known
    (:func:`svdlens.faces.world.face`, which also takes a name such as ``"scary-face"``); any other
    model starts from the ``which``-th built-in real face. The demo, the app and the CLI all choose here.

    Parameters
    ----------
    model : str
        The model's name as given to :func:`svdlens.diffusion.load` (a built-in name, a folder or a hub id).
    which : int or str
        An index; on the face world also a name in :data:`svdlens.faces.world.NAMED`.

    Returns
    -------
    numpy.ndarray
        ``(64, 64)`` on the face world, else the real face at its stored ``(25, 25)``; values in [0, 1].

    Raises
    ------
    InvalidParameterError
        An index out of range, or a name anywhere but on the face world.

    Examples
    --------
    >>> start_face("builtin", "scary-face").shape, start_face("builtin-lfw", 0).shape
    ((64, 64), (25, 25))
    """
    from .._validation import check_int
    from ..exceptions import InvalidParameterError
    from ..faces import builtin, world

    spec = BUILTINS.get(model)
    if spec is not None and spec.data == "world":
        return world.face(which)
    faces = builtin("faces")
    if isinstance(which, str) and not which.isdigit():
        raise InvalidParameterError(f"face {which!r}: named faces belong to the face world; use an index")
    return faces[check_int("face", int(which), low=0, high=len(faces) - 1)]

"""The model space, where x_t lives, and images: pixels in [−1, 1], or the VAE's scaled latents.

A latent model (Stable Diffusion) encodes to the VAE's latent means and decodes as diffusers'
pipelines do: ``(latents − shift)·scaling`` one way, ``latents/scaling + shift`` the other,
with the VAE's ``scaling_factor`` and ``shift_factor`` read once, here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from .. import _defaults
from .._validation import check_finite
from ..exceptions import InputNote, SvdlensError
from ._modules import OVERFLOW, DiffusersModel

__all__ = ["ModelSpace"]


class ModelSpace:
    """Images in [0, 1] ↔ the model space, for a pixel U-Net or a U-Net on a VAE's latents.

    Parameters
    ----------
    unet : diffusers.UNet2DModel or diffusers.UNet2DConditionModel
        The denoiser (its config gives x_t's channels and size, and how x_t's size may vary).
    vae : diffusers.AutoencoderKL or None
        For a latent model, placed already.
    device : torch.device
        Where the model runs.
    dtype : torch.dtype
        The weights' dtype.

    Attributes
    ----------
    channels, size : int
        x_t is ``(n, channels, size, size)`` at the model's own size.
    vae_scale : int
        The VAE's downsampling (1 for a pixel model).
    image_channels, image_size : int
        The images' channels and size.
    scaling, shift : float
        The VAE's ``scaling_factor`` and ``shift_factor`` (1 and 0 for a pixel model).
    multiple : int
        x_t's height and width must be multiples of it: 1 for a U-Net that takes any size
        (``UNet2DConditionModel`` forwards the sizes to its upsamplers), else ``2**levels``.
    """

    def __init__(self, unet: DiffusersModel, vae: DiffusersModel, device: torch.device, dtype: torch.dtype) -> None:
        cfg = unet.config
        self.vae = vae
        self.device, self.dtype = device, dtype
        self.channels = int(cfg.in_channels)
        self.size = int(cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0])
        self.vae_scale = 2 ** (len(vae.config.block_out_channels) - 1) if vae is not None else 1
        self.image_size = self.size * self.vae_scale
        self.image_channels = int(vae.config.in_channels) if vae is not None else self.channels
        self.scaling = float(vae.config.scaling_factor) if vae is not None else 1.0
        self.shift = float(getattr(vae.config, "shift_factor", None) or 0.0) if vae is not None else 0.0
        # diffusers' UNet2DConditionModel passes each skip's size to its upsampler, so any size
        # runs; UNet2DModel doubles blindly, so x_t must halve cleanly at every level.
        self.multiple = 1 if hasattr(unet, "num_upsamplers") else 2 ** (len(cfg.block_out_channels) - 1)

    def to_model(self, images: ArrayLike | torch.Tensor) -> torch.Tensor:
        """Images (n, h, w) or (n, c, h, w) in [0, 1] → pixels (n, c, S, S) in [−1, 1], with notes (see ``Pipeline``)."""
        x = self._batched(
            torch.as_tensor(np.asarray(images, dtype=np.float32) if not isinstance(images, torch.Tensor) else images)
        ).float()
        channels, size = self.image_channels, self.image_size
        if x.ndim != 4:
            raise SvdlensError(f"images must be (n, h, w) or (n, c, h, w); got shape {tuple(x.shape)}")
        if x.shape[1] != channels:
            if channels == 1 and x.shape[1] in (3, 4):
                warnings.warn("colour images converted to grayscale for this 1-channel model", InputNote, stacklevel=3)
                x = (x[:, :3] * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
            elif channels == 3 and x.shape[1] in (1, 4):
                what = "grayscale images repeated to" if x.shape[1] == 1 else "the alpha channel dropped for"
                warnings.warn(f"{what} 3 channels for this colour model", InputNote, stacklevel=3)
                x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x[:, :3]
            else:
                raise SvdlensError(f"images have {x.shape[1]} channels; the model takes {channels}")
        if x.shape[-2:] != (size, size):
            fit = f" (the VAE takes {size}×{size})" if self.vae is not None else ""
            warnings.warn(
                f"images of {x.shape[-2]}×{x.shape[-1]} resized to the model's {size}×{size}{fit}",
                InputNote,
                stacklevel=3,
            )
            x = torch.nn.functional.interpolate(
                x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
            )
        if not bool(torch.isfinite(x).all()):
            raise SvdlensError("images contain NaN or Inf")
        return (x * 2 - 1).to(self.device, self.dtype)

    def _batched(self, x: Any) -> Any:
        """An array or tensor of images as (n, c, h, w): one (h, w), (n, h, w) or one (c, h, w) by the channels."""
        if x.ndim == 2:
            return x[None, None]
        if x.ndim == 3:
            return x[:, None] if self.image_channels == 1 or x.shape[0] not in (1, 3) else x[None]
        return x

    def as_batch(self, images: ArrayLike | torch.Tensor) -> np.ndarray:
        """Images as given, read as :meth:`to_model` reads them, in the layout of :meth:`to_images` (not resized)."""
        a = self._batched(images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images))
        return a[:, 0] if a.ndim == 4 and a.shape[1] == 1 else a

    def encode(self, images: ArrayLike | torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] → x_0 in model space: pixels in [−1, 1], or the VAE's scaled latent means."""
        x = self.to_model(images)
        if self.vae is None:
            return x
        with torch.no_grad():
            latents = self.vae.encode(x).latent_dist.mean
        check_finite("the VAE's encoder output", latents, OVERFLOW)
        return (latents - self.shift) * self.scaling

    def to_images(self, x: torch.Tensor) -> np.ndarray:
        """Model space → float32 images in [0, 1]: (n, h, w) for one channel, else (n, c, h, w)."""
        x = x.detach()
        if self.vae is not None:
            with torch.no_grad():
                x = self.vae.decode(x.to(self.device, self.dtype) / self.scaling + self.shift, return_dict=False)[0]
            check_finite("the VAE's decoder output", x, OVERFLOW)
        img = (x.float().cpu() / 2 + 0.5).clamp(0, 1).numpy()
        return img[:, 0] if img.shape[1] == 1 else img

    def checked_latents(self, latents: torch.Tensor | np.ndarray) -> torch.Tensor:
        """x_T as given to ``sample``: (n, channels, h, w), finite, h and w multiples of :attr:`multiple`.

        Other sizes than the model's own are taken as diffusers' pipelines take them; the
        images they make are ``vae_scale`` times as large, at most ``MAX_PIXELS`` pixels.

        Parameters
        ----------
        latents : torch.Tensor or numpy.ndarray
            The starting noise.

        Returns
        -------
        torch.Tensor
            On the model's device, in its dtype.

        Raises
        ------
        SvdlensError
            Another number of dimensions or channels, a size the U-Net cannot take or that
            makes images above ``MAX_PIXELS``, NaN or Inf.
        """
        x = torch.as_tensor(latents)
        shape = tuple(x.shape)
        if x.ndim != 4 or shape[1] != self.channels or 0 in shape:
            raise SvdlensError(
                f"latents must be (n, {self.channels}, {self.size}, {self.size}), or (n, {self.channels}, h, w) at "
                f"another size the U-Net takes; got {shape}"
            )
        h, w = shape[2:]
        if h % self.multiple or w % self.multiple:
            raise SvdlensError(
                f"latents of {h}×{w}: this U-Net takes heights and widths that are multiples of {self.multiple}"
            )
        pixels = h * w * self.vae_scale**2
        limit = _defaults.max_pixels()
        if pixels > limit:
            raise SvdlensError(
                f"latents of {h}×{w} make images of {h * self.vae_scale}×{w * self.vae_scale} pixels; "
                f"the limit is {limit:,}"
            )
        if not x.is_floating_point() or not bool(torch.isfinite(x).all()):
            raise SvdlensError("latents must be finite floating-point numbers")
        return x.to(self.device, self.dtype)

"""Conditioning on a prompt, and classifier-free guidance, as diffusers' ``StableDiffusionPipeline`` does them.

Prompts go through diffusers' own ``encode_prompt`` (on a ``StableDiffusionPipeline`` made over
the same modules, no copies); guidance is one U-Net batch of [negative, prompt], then
``uncond + scale·(cond − uncond)``, applied only when the scale is above 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .._defaults import DEFAULT_GUIDANCE, MAX_GUIDANCE
from .._validation import check_finite, check_float
from ..exceptions import InvalidParameterError, ModelLoadError
from ._modules import OVERFLOW, DiffusersModel, quiet_loading

__all__ = ["Conditioning", "Text"]


@dataclass
class Conditioning:
    """Text embeddings for a batch: the prompt's, the negative prompt's, and the guidance scale.

    Made by :meth:`Pipeline.conditioning`.

    Attributes
    ----------
    cond : torch.Tensor
        ``(n, L, D)`` the prompt's embeddings.
    uncond : torch.Tensor or None
        ``(n, L, D)`` the negative (or empty) prompt's embeddings; None without guidance.
    scale : float
        The classifier-free guidance scale; it is applied only when above 1, as in diffusers.
    prompt : str
        The prompt.
    """

    cond: torch.Tensor
    uncond: torch.Tensor | None
    scale: float
    prompt: str


class Text:
    """The U-Net's conditioning: prompts to embeddings, and its guided prediction.

    Parameters
    ----------
    unet : diffusers U-Net
        The denoiser, placed already.
    scheduler : diffusers scheduler
        Handed to diffusers' ``StableDiffusionPipeline`` (its ``encode_prompt`` does not use it).
    vae, text_encoder, tokenizer : optional
        Stable Diffusion's other components (the encoder placed already).
    device : torch.device
        Where the embeddings are made.

    Attributes
    ----------
    has_text : bool
        Whether the U-Net is conditioned on a prompt.

    Raises
    ------
    ModelLoadError
        A text U-Net without its text encoder and tokenizer.
    """

    def __init__(
        self,
        unet: DiffusersModel,
        scheduler: DiffusersModel,
        *,
        vae: DiffusersModel,
        text_encoder: DiffusersModel,
        tokenizer: DiffusersModel,
        device: torch.device,
    ) -> None:
        self.unet, self.scheduler, self.vae = unet, scheduler, vae
        self.text_encoder, self.tokenizer, self.device = text_encoder, tokenizer, device
        self.has_text = getattr(unet.config, "cross_attention_dim", None) is not None
        if self.has_text and (text_encoder is None or tokenizer is None):
            raise ModelLoadError("this U-Net is conditioned on text, but no text encoder and tokenizer came with it")
        self._sd: Any = None  # a diffusers StableDiffusionPipeline over the same modules, for encode_prompt

    def guidance(self, guidance_scale: float | None) -> float | None:
        """The sampling guidance: ``DEFAULT_GUIDANCE`` for a text model unless given, none for others."""
        return (DEFAULT_GUIDANCE if self.has_text else None) if guidance_scale is None else guidance_scale

    def conditioning(
        self,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float | None = None,
        n: int = 1,
    ) -> Conditioning | None:
        """Text embeddings for ``n`` samples, or None for a model without text (see ``Pipeline.conditioning``)."""
        for name, value in (("prompt", prompt), ("negative_prompt", negative_prompt)):
            if value is not None and not isinstance(value, str):
                raise InvalidParameterError(f"{name} must be a string; got {type(value).__name__}")
        scale = (
            1.0 if guidance_scale is None else check_float("guidance_scale", guidance_scale, low=0.0, high=MAX_GUIDANCE)
        )
        if not self.has_text:
            if prompt is not None or negative_prompt is not None or scale != 1.0:
                asked = (
                    "prompt"
                    if prompt is not None
                    else "negative_prompt"
                    if negative_prompt is not None
                    else "guidance_scale"
                )
                raise InvalidParameterError(
                    f"{asked} applies only to text-conditioned models (Stable Diffusion); this model takes no text"
                )
            return None
        guided = scale > 1 and getattr(self.unet.config, "time_cond_proj_dim", None) is None
        with torch.no_grad():
            cond, uncond = self._stable_diffusion().encode_prompt(
                prompt or "", self.device, n, guided, negative_prompt=negative_prompt
            )
        check_finite("the text encoder's output", cond if uncond is None else torch.cat([cond, uncond]), OVERFLOW)
        return Conditioning(cond, uncond if guided else None, scale, prompt or "")

    def model_output(self, x: torch.Tensor, timestep: int, cond: Conditioning | None = None) -> torch.Tensor:
        """The U-Net's prediction at ``timestep``, guided as diffusers guides it (see ``Pipeline.model_output``)."""
        with torch.no_grad():
            if cond is None:
                out = self.unet(x, timestep).sample
            elif cond.uncond is None:
                out = self.unet(x, timestep, encoder_hidden_states=_batch(cond.cond, len(x))).sample
            else:
                both = torch.cat([_batch(cond.uncond, len(x)), _batch(cond.cond, len(x))])
                uncond, text = self.unet(torch.cat([x, x]), timestep, encoder_hidden_states=both).sample.chunk(2)
                out = uncond + cond.scale * (text - uncond)
        check_finite(f"the U-Net's prediction at timestep {timestep}", out, OVERFLOW)
        return out

    def _stable_diffusion(self):
        """diffusers' StableDiffusionPipeline over the same modules (no copies), for ``encode_prompt``."""
        if self._sd is None:
            with quiet_loading():  # importing it logs notes about image processors the method never uses
                from diffusers import StableDiffusionPipeline

            self._sd = StableDiffusionPipeline(
                vae=self.vae,
                text_encoder=self.text_encoder,
                tokenizer=self.tokenizer,
                unet=self.unet,
                scheduler=self.scheduler,
                safety_checker=None,
                feature_extractor=None,
                requires_safety_checker=False,
            )
            self._sd.set_progress_bar_config(disable=True)
        return self._sd


def _batch(embeddings: torch.Tensor, n: int) -> torch.Tensor:
    """Embeddings for a batch of n (made for one sample, or already for n)."""
    return embeddings if len(embeddings) == n else embeddings[:1].expand(n, *embeddings.shape[1:])

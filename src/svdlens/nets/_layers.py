"""``layer_map(model, layer)``: the map from a model's input to one of its submodules' outputs."""

from __future__ import annotations

import difflib
from typing import Any

import torch

from ..exceptions import InvalidParameterError, ModelError, UnknownLayerError

__all__ = ["layer_map", "LayerMap", "UnknownLayerError"]


class _StopForward(Exception):
    """Raised by the hook once the layer's output is in hand: the rest of the forward is skipped."""


class LayerMap:
    """``x ↦ output of model.<layer>`` for the forward call ``model(x, **forward_kwargs)``.

    A forward hook catches the submodule's output and stops the forward pass there. A tuple
    output gives its first tensor (diffusers blocks return tuples). Made by :func:`~svdlens.layer_map`.

    Parameters
    ----------
    model : torch.nn.Module
        The model to run.
    layer : str
        The submodule, named as in ``model.named_modules()``.
    **forward_kwargs
        Passed to every forward call, after ``x``.

    Attributes
    ----------
    module : torch.nn.Module
        The submodule ``layer``.

    Raises
    ------
    InvalidParameterError
        ``model`` is not a ``torch.nn.Module``.
    UnknownLayerError
        ``model`` has no submodule ``layer``; the message lists the nearest names.
    """

    def __init__(self, model: torch.nn.Module, layer: str, **forward_kwargs: Any) -> None:
        if not isinstance(model, torch.nn.Module):
            raise InvalidParameterError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        modules = dict(model.named_modules())
        if layer not in modules or layer == "":
            near = difflib.get_close_matches(layer, [n for n in modules if n], n=5, cutoff=0.4)
            hint = f"; nearest: {', '.join(near)}" if near else ""
            top = [n for n in modules if n and "." not in n][:12]
            raise UnknownLayerError(
                f"{type(model).__name__} has no layer {layer!r}{hint}. Top-level layers: {', '.join(top)}"
            )
        self.model = model
        self.layer = layer
        self.module = modules[layer]
        self.forward_kwargs = forward_kwargs

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Run the model on ``x`` as far as the layer, and return the layer's output.

        Parameters
        ----------
        x : torch.Tensor
            The model's input.

        Returns
        -------
        torch.Tensor
            The output of the layer (the first tensor of a tuple, ``.sample`` of an output object).

        Raises
        ------
        ModelError
            The forward pass never reached the layer.
        """
        caught = {}

        def hook(module, inputs, output):
            caught["out"] = output
            raise _StopForward

        handle = self.module.register_forward_hook(hook)
        try:
            self.model(x, **self.forward_kwargs)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if "out" not in caught:
            raise ModelError(f"the forward pass never reached layer {self.layer!r}")
        out = caught["out"]
        if isinstance(out, (tuple, list)):
            out = next(o for o in out if isinstance(o, torch.Tensor))
        elif hasattr(out, "sample") and isinstance(out.sample, torch.Tensor):
            out = out.sample
        return out

    def __repr__(self):
        kw = ", ".join(f"{k}={v!r}" for k, v in self.forward_kwargs.items())
        return f"layer_map({type(self.model).__name__}, {self.layer!r}{', ' + kw if kw else ''})"


def layer_map(model: torch.nn.Module, layer: str, **forward_kwargs: Any) -> LayerMap:
    """``x ↦`` the output of the submodule ``layer`` of ``model`` (named as in ``model.named_modules()``).

    The forward pass stops at the layer: nothing after it runs.

    Parameters
    ----------
    model : torch.nn.Module
        The model to run.
    layer : str
        The submodule, named as in ``model.named_modules()`` (``"mid_block"``, ``"encoder.3"``).
    **forward_kwargs
        Passed to every forward call, after ``x`` (a diffusion U-Net's ``timestep``, say).

    Returns
    -------
    LayerMap
        A callable ``f(x)`` -> the layer's output, to give to :func:`svdlens.jacobian` or
        :func:`svdlens.local_basis`.

    Raises
    ------
    InvalidParameterError
        ``model`` is not a ``torch.nn.Module``.
    UnknownLayerError
        ``model`` has no submodule ``layer``; the message lists the nearest names.

    Examples
    --------
    >>> import torch, svdlens as sl
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    >>> sl.layer_map(net, "1")(torch.zeros(4)).shape
    torch.Size([3])
    """
    return LayerMap(model, layer, **forward_kwargs)

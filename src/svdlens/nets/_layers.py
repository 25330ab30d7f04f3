"""``layer_map(model, layer)``: the map from a model's input to one of its submodules' outputs."""

from __future__ import annotations

import difflib

import torch

from ..exceptions import InvalidParameterError, ModelError, UnknownLayerError

__all__ = ["layer_map", "LayerMap", "UnknownLayerError"]


class _StopForward(Exception):
    """Raised by the hook once the layer's output is in hand: the rest of the forward is skipped."""


class LayerMap:
    """``x ↦ output of model.<layer>`` for the forward call ``model(x, **forward_kwargs)``.

    A forward hook catches the submodule's output and stops the forward pass there. A tuple
    output gives its first tensor (diffusers blocks return tuples).
    """

    def __init__(self, model: torch.nn.Module, layer: str, **forward_kwargs):
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


def layer_map(model: torch.nn.Module, layer: str, **forward_kwargs) -> LayerMap:
    """``x ↦`` the output of the submodule ``layer`` of ``model`` (named as in ``model.named_modules()``).

    Examples
    --------
    >>> import torch, svdlens as sl
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    >>> sl.layer_map(net, "1")(torch.zeros(4)).shape
    torch.Size([3])
    """
    return LayerMap(model, layer, **forward_kwargs)

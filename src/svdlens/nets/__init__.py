"""Jacobian SVD of any PyTorch model: the matrix-free Jacobian, local bases, transport, weight directions."""

from .basis import LocalBasis, cache_key, local_basis
from .jacobian import JacobianOperator, ModelError, jacobian
from .layers import LayerMap, UnknownLayerError, layer_map
from .transport import Transported, global_directions, transport
from .weights import weight_directions

__all__ = [
    "jacobian", "JacobianOperator", "ModelError", "layer_map", "LayerMap", "UnknownLayerError",
    "local_basis", "LocalBasis", "cache_key", "transport", "Transported", "global_directions",
    "weight_directions",
]

"""Jacobian SVD of any PyTorch model: the matrix-free Jacobian, local bases, transport, weight directions."""

from ._basis import LocalBasis, cache_key, local_basis
from ._distributed import BasisRun, local_bases
from ._jacobian import JacobianOperator, jacobian
from ._layers import LayerMap, layer_map
from ._transport import TRANSPORT_METHODS, Transported, global_directions, transport
from ._weights import weight_directions

__all__ = [
    "jacobian",
    "JacobianOperator",
    "layer_map",
    "LayerMap",
    "local_basis",
    "LocalBasis",
    "cache_key",
    "transport",
    "Transported",
    "TRANSPORT_METHODS",
    "global_directions",
    "local_bases",
    "BasisRun",
    "weight_directions",
]

"""The SVD engine: an operator abstraction, the methods that run on it, and matrix I/O."""

from ._angles import grassmann_distance, principal_angles, projection_distance
from ._io import load_matrix, parse_matrix, parse_vector, read_matrix
from ._operator import Operator, as_operator
from ._result import SVDResult
from ._svd import METHODS, svd

__all__ = [
    "Operator",
    "as_operator",
    "svd",
    "SVDResult",
    "METHODS",
    "parse_matrix",
    "parse_vector",
    "load_matrix",
    "read_matrix",
    "principal_angles",
    "grassmann_distance",
    "projection_distance",
]

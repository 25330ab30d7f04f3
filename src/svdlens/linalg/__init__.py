"""The SVD engine: an operator abstraction and the methods that run on it."""

from .checks import as_matrix, check_k
from .operator import Operator, as_operator
from .result import ConvergenceWarning, PrecisionWarning, SVDResult
from .svd import METHODS, svd

__all__ = [
    "Operator",
    "as_operator",
    "as_matrix",
    "check_k",
    "svd",
    "SVDResult",
    "METHODS",
    "ConvergenceWarning",
    "PrecisionWarning",
]

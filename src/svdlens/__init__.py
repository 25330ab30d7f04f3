"""svdlens: the singular value decomposition, from a 2×2 matrix to the Jacobian of a diffusion model."""

from . import faces
from .faces import Eigenfaces
from .linalg import ConvergenceWarning, Operator, PrecisionWarning, SVDResult, as_operator, svd

__version__ = "0.1.0"

__all__ = ["svd", "Operator", "Eigenfaces", "faces", "as_operator", "SVDResult", "ConvergenceWarning", "PrecisionWarning", "__version__"]

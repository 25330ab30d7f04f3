"""svdlens: the singular value decomposition, from a 2×2 matrix to the Jacobian of a diffusion model."""

from . import diffusion, faces
from .explain import explain  # the function: sl.explain(A); submodules via `from svdlens.explain import ...`
from .faces import Eigenfaces
from .linalg import ConvergenceWarning, Operator, PrecisionWarning, SVDResult, as_operator, svd
from .nets import (
    LocalBasis,
    global_directions,
    jacobian,
    layer_map,
    local_basis,
    transport,
    weight_directions,
)

__version__ = "0.1.0"

__all__ = ["svd", "explain", "diffusion", "Operator", "Eigenfaces", "faces", "jacobian", "layer_map", "local_basis", "LocalBasis",
           "transport", "global_directions", "weight_directions", "as_operator", "SVDResult", "ConvergenceWarning", "PrecisionWarning", "__version__"]

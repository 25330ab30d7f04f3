"""A linear map known only through its products with blocks of vectors.

This is the one abstraction every solver in :mod:`svdlens.linalg` runs on, in the
spirit of :class:`scipy.sparse.linalg.LinearOperator`: an operator ``A`` of shape
``(m, n)`` needs only ``A @ X`` (:meth:`Operator.matmat`) and ``A.T @ Y``
(:meth:`Operator.rmatmat`). A Jacobian of a network, a sparse matrix and a dense
array all look the same to the solvers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from ..exceptions import InvalidParameterError, SvdlensError

__all__ = ["Operator", "as_operator", "torch_dtype_of", "numpy_dtype_of"]

_TORCH_OF_NUMPY: dict[np.dtype, torch.dtype] = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
}
_NUMPY_OF_TORCH: dict[torch.dtype, np.dtype] = {v: k for k, v in _TORCH_OF_NUMPY.items()}

Block = TypeVar("Block", np.ndarray, torch.Tensor)
"""A block of vectors: products give back the type they are given (numpy or torch)."""


def torch_dtype_of(dtype: Any) -> torch.dtype:
    """The torch dtype matching a numpy or torch floating dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    return _TORCH_OF_NUMPY[np.dtype(dtype)]


def numpy_dtype_of(dtype: Any) -> np.dtype:
    """The numpy dtype matching a numpy or torch floating dtype."""
    if isinstance(dtype, torch.dtype):
        return _NUMPY_OF_TORCH[dtype]
    return np.dtype(dtype)


class Operator:
    """A linear map ``A: R^n -> R^m`` given by its products with blocks of vectors.

    Parameters
    ----------
    shape : (int, int)
        ``(m, n)``.
    matmat : callable
        ``X (n, b) -> A @ X (m, b)``.
    rmatmat : callable
        ``Y (m, b) -> A.T @ Y (n, b)``.
    dtype : numpy dtype or torch dtype
        The working precision. With a torch dtype, ``matmat`` and ``rmatmat``
        receive and return torch tensors on ``device``; otherwise numpy arrays.
    device : torch device, optional
        Where a torch operator's tensors live (default: CPU).

    Attributes
    ----------
    shape : (int, int)
        ``(m, n)``.
    dtype : numpy dtype or torch dtype
        The working precision.
    device : torch.device
        Where a torch operator's tensors live.
    n_matvec : int
        Products with ``A`` or ``A.T`` so far; a block of ``b`` vectors counts as ``b``.

    Raises
    ------
    SvdlensError
        A shape that is not positive, or a dtype other than float32 or float64.

    Examples
    --------
    >>> import numpy as np, svdlens as sl
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> op = sl.Operator(A.shape, lambda X: A @ X, lambda Y: A.T @ Y)
    >>> op.matmat(np.eye(2)).tolist(), op.n_matvec
    ([[2.0, 1.0], [1.0, 3.0]], 2)
    """

    def __init__(
        self,
        shape: tuple[int, int],
        matmat: Callable,
        rmatmat: Callable,
        dtype: np.dtype | type | str | torch.dtype = np.float64,
        device: torch.device | str | None = None,
    ) -> None:
        m, n = (int(d) for d in shape)
        if m < 1 or n < 1:
            raise SvdlensError(f"an operator needs a positive shape; got {shape}")
        self.shape = (m, n)
        self._matmat = matmat
        self._rmatmat = rmatmat
        self.dtype: Any = dtype if isinstance(dtype, torch.dtype) else np.dtype(dtype)  # numpy or torch dtype
        if self.dtype not in (np.float32, np.float64, torch.float32, torch.float64):
            raise SvdlensError(f"operators work in float32 or float64; got {dtype}")
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._count = [0]  # shared with the transpose, so that op.T counts too

    # ------------------------------------------------------------------ queries
    @property
    def is_torch(self) -> bool:
        """True when the callables work on torch tensors."""
        return isinstance(self.dtype, torch.dtype)

    @property
    def torch_dtype(self) -> torch.dtype:
        """The working precision as a torch dtype."""
        return torch_dtype_of(self.dtype)

    @property
    def numpy_dtype(self) -> np.dtype:
        """The working precision as a numpy dtype."""
        return numpy_dtype_of(self.dtype)

    @property
    def n_matvec(self) -> int:
        """Products with ``A`` or ``A.T`` so far; a block of ``b`` vectors counts as ``b``."""
        return self._count[0]

    @n_matvec.setter
    def n_matvec(self, value: int) -> None:
        self._count[0] = int(value)

    def __repr__(self) -> str:
        where = f", device={self.device}" if self.is_torch else ""
        return f"<Operator {self.shape[0]}x{self.shape[1]} {self.dtype}{where}, n_matvec={self.n_matvec}>"

    # ----------------------------------------------------------------- products
    def matmat(self, X: Block) -> Block:
        """``A @ X`` for a block ``X`` of shape ``(n, b)`` or a vector ``(n,)``.

        Parameters
        ----------
        X : numpy.ndarray or torch.Tensor
            A block ``(n, b)`` or a vector ``(n,)``.

        Returns
        -------
        numpy.ndarray or torch.Tensor
            ``A @ X``, of shape ``(m, b)`` or ``(m,)``. The result has the type of ``X``
            (numpy or torch), whatever the operator's own.

        Raises
        ------
        SvdlensError
            ``X`` does not have ``n`` rows.
        """
        return self._apply(self._matmat, X, self.shape[1], "matmat")

    def rmatmat(self, Y: Block) -> Block:
        """``A.T @ Y`` for a block ``Y`` of shape ``(m, b)`` or a vector ``(m,)``.

        Parameters
        ----------
        Y : numpy.ndarray or torch.Tensor
            A block ``(m, b)`` or a vector ``(m,)``.

        Returns
        -------
        numpy.ndarray or torch.Tensor
            ``A.T @ Y``, of shape ``(n, b)`` or ``(n,)``, of the type of ``Y``.

        Raises
        ------
        SvdlensError
            ``Y`` does not have ``m`` rows.
        """
        return self._apply(self._rmatmat, Y, self.shape[0], "rmatmat")

    def matvec(self, x: Block) -> Block:
        """``A @ x`` for a vector, as :meth:`matmat` (scipy's name).

        Parameters
        ----------
        x : numpy.ndarray or torch.Tensor
            A vector ``(n,)`` (or a block ``(n, b)``).

        Returns
        -------
        numpy.ndarray or torch.Tensor
            ``A @ x``, of the type of ``x``.
        """
        return self.matmat(x)

    def rmatvec(self, y: Block) -> Block:
        """``A.T @ y`` for a vector, as :meth:`rmatmat` (scipy's name).

        Parameters
        ----------
        y : numpy.ndarray or torch.Tensor
            A vector ``(m,)`` (or a block ``(m, b)``).

        Returns
        -------
        numpy.ndarray or torch.Tensor
            ``A.T @ y``, of the type of ``y``.
        """
        return self.rmatmat(y)

    def __matmul__(self, X):
        return self.matmat(X)

    @property
    def T(self) -> Operator:
        """The transpose, sharing this operator's product counter."""
        t = Operator(self.shape[::-1], self._rmatmat, self._matmat, self.dtype, self.device)
        t._count = self._count
        return t

    def _apply(self, fn, X, n_in: int, name: str):
        is_torch_in = isinstance(X, torch.Tensor)
        if not is_torch_in:
            X = np.asarray(X)
        vector = X.ndim == 1
        if X.ndim not in (1, 2) or X.shape[0] != n_in:
            raise SvdlensError(f"{name} needs an array of shape ({n_in},) or ({n_in}, b); got {tuple(X.shape)}")
        block = X.reshape(n_in, 1) if vector else X
        out = fn(self._to_native(block))
        self._count[0] += block.shape[1]
        out = self._from_native(out, like=X, is_torch=is_torch_in)
        return out.reshape(-1) if vector else out

    def _to_native(self, X):
        if self.is_torch:
            if isinstance(X, torch.Tensor):
                return X.to(device=self.device, dtype=self.dtype)
            return torch.as_tensor(np.asarray(X, dtype=self.numpy_dtype), device=self.device)
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        return np.asarray(X, dtype=self.numpy_dtype)

    def _from_native(self, out, like, is_torch: bool):
        if is_torch:
            if not isinstance(out, torch.Tensor):
                out = torch.from_numpy(np.ascontiguousarray(_dense(out)))
            return out.to(device=like.device, dtype=like.dtype if like.is_floating_point() else self.torch_dtype)
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        dtype = like.dtype if like.dtype.kind == "f" else self.numpy_dtype
        return np.asarray(_dense(out), dtype=dtype)

    # ------------------------------------------------------------------- scipy
    def to_scipy(self) -> spla.LinearOperator:
        """This operator as a :class:`scipy.sparse.linalg.LinearOperator` (numpy in, numpy out).

        Returns
        -------
        scipy.sparse.linalg.LinearOperator
            A view of this operator; products made through it count towards :attr:`n_matvec`.

        Examples
        --------
        >>> import numpy as np, svdlens as sl
        >>> op = sl.as_operator(np.array([[2.0, 1.0], [1.0, 3.0]]))
        >>> (op.to_scipy() @ np.ones(2)).tolist(), op.n_matvec
        ([3.0, 4.0], 1)
        """
        return spla.LinearOperator(
            self.shape,
            matvec=self.matmat,
            rmatvec=self.rmatmat,
            matmat=self.matmat,
            rmatmat=self.rmatmat,
            dtype=self.numpy_dtype,
        )


def _dense(out):
    """Products of scipy sparse matrices with dense blocks may come back as np.matrix."""
    return out.toarray() if sp.issparse(out) else np.asarray(out)


def as_operator(
    A: np.ndarray | torch.Tensor | sp.spmatrix | sp.sparray | spla.LinearOperator | Operator,
) -> Operator:
    """Wrap a numpy array, torch tensor, scipy sparse matrix or LinearOperator as an :class:`Operator`.

    Parameters
    ----------
    A : numpy.ndarray, torch.Tensor, scipy sparse matrix, scipy LinearOperator or Operator
        A 2-D matrix. It is used as it is: :func:`svdlens.svd` validates and converts its
        input first, a direct caller should pass a float32 or float64 matrix.

    Returns
    -------
    Operator
        ``A`` behind the operator protocol (torch tensors keep their dtype and device).
        An :class:`Operator` is returned unchanged.

    Raises
    ------
    InvalidParameterError
        ``A`` is none of the types above.

    Examples
    --------
    >>> import numpy as np, svdlens as sl
    >>> op = sl.as_operator(np.array([[2.0, 1.0], [1.0, 3.0]]))
    >>> op.shape, op.rmatmat(np.array([1.0, 0.0])).tolist()
    ((2, 2), [2.0, 1.0])
    """
    if isinstance(A, Operator):
        return A
    if isinstance(A, torch.Tensor):
        At = A.mT
        return Operator((A.shape[0], A.shape[1]), lambda X: A @ X, lambda Y: At @ Y, A.dtype, A.device)
    if sp.issparse(A):
        A = A.tocsr()  # type: ignore[union-attr]  # sp.issparse does not narrow the type
        At = A.T.tocsr()
        return Operator(A.shape, lambda X: A @ X, lambda Y: At @ Y, A.dtype)
    if isinstance(A, spla.LinearOperator):
        dtype = A.dtype if np.dtype(A.dtype).kind == "f" else np.float64
        return Operator(A.shape, A.matmat, A.rmatmat, dtype)
    if isinstance(A, np.ndarray):
        return Operator(A.shape, lambda X: A @ X, lambda Y: A.T @ Y, A.dtype)
    raise InvalidParameterError(
        f"cannot make an operator from {type(A).__name__}; pass a numpy array, torch tensor, "
        "scipy sparse matrix, scipy LinearOperator or svdlens.Operator"
    )

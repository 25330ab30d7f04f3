"""The one way svdlens reaches a dask scheduler: :func:`connect`, bounded in time and never fooled by a peer.

``distributed.Client(address, timeout=...)`` bounds only the TCP connection. A peer that
accepts and then stays silent keeps it waiting in dask's handshake for ever, and a peer that
speaks something else makes it allocate whatever its first 8 bytes announce (2⁶⁴ − 1 bytes
for eight 0xff). So a ``tcp://`` address is first probed with a plain socket: a dask
scheduler speaks first, its handshake, a message of a few dozen bytes. Silence, a closed
connection, an announced length above :data:`MAX_HANDSHAKE` or bytes that are not that
handshake are refused there, with nothing large allocated. Then the client is made in a
thread that the caller waits for only until the deadline, so that no step (a name lookup,
another scheme such as ``tls://``, a scheduler that stalls) outlasts ``timeout``.

Used by :func:`svdlens.nets.local_bases` and :func:`svdlens.faces.fit_out_of_core`.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
from typing import Any

from .exceptions import InvalidParameterError, MissingDependencyError, SvdlensError

__all__ = ["connect", "require_distributed", "MAX_HANDSHAKE"]

MAX_HANDSHAKE = 1 << 16
"""The most bytes the probe reads: a scheduler's handshake is under a hundred."""

GRACE = 0.5  # seconds past the deadline that connect waits for the client's own error
_FRAME = struct.Struct("Q")  # dask's length prefixes: unsigned 64-bit, native order (comm/tcp.py)


def require_distributed(what: str = "connecting to a dask scheduler") -> Any:
    """The ``distributed`` module, or a :class:`MissingDependencyError` that says how to install it."""
    try:
        import distributed
    except ImportError:  # pragma: no cover - distributed is an optional extra
        raise MissingDependencyError(f"{what} needs distributed: pip install 'svdlens[dask]'") from None
    return distributed


def connect(address: str, timeout: float = 10.0) -> Any:
    """A ``distributed.Client`` for the scheduler at ``address``, or a clear error within ``timeout`` seconds.

    Parameters
    ----------
    address : str
        The scheduler's address, such as ``"tcp://10.0.0.5:8786"`` (``tcp://`` is the default
        scheme; ``tls://``, ``inproc://`` and the others of distributed work too, without the probe).
    timeout : float
        Seconds the whole connection may take: the name lookup, the TCP connection, dask's
        handshake and the client's start.

    Returns
    -------
    distributed.Client
        Connected (not set as dask's default client); close it when done.

    Raises
    ------
    MissingDependencyError
        distributed is not installed.
    InvalidParameterError
        ``timeout`` is not a number of seconds above 0.
    SvdlensError
        ``address`` is not an address with a port; nothing answered there within ``timeout``
        (refused, silent, closed); or the peer there is not a dask scheduler (it sent
        something other than dask's handshake). The error comes within ``timeout`` and a
        fraction of a second.

    Examples
    --------
    >>> connect("tcp://127.0.0.1:9", timeout=0.5)
    Traceback (most recent call last):
    ...
    svdlens.exceptions.SvdlensError: no dask scheduler answered at tcp://127.0.0.1:9 within 0.5 s ...
    """
    distributed = require_distributed()
    timeout = _seconds(timeout)
    address = str(address).strip()
    deadline = time.monotonic() + timeout
    outcome: dict[str, Any] = {}
    lock = threading.Lock()

    def attempt() -> None:
        try:
            _probe(address, deadline, timeout)
            client = distributed.Client(address, timeout=max(deadline - time.monotonic(), 0.01), set_as_default=False)
        except BaseException as err:  # handed to the caller, who raises it as an svdlens error
            with lock:
                outcome["error"] = err
            return
        with lock:
            abandoned = outcome.get("abandoned", False)
            if not abandoned:
                outcome["client"] = client
        if abandoned:  # the caller gave up on this client already: let it go
            _close_quietly(client)

    thread = threading.Thread(target=attempt, name="svdlens-dask-connect", daemon=True)
    thread.start()
    thread.join(max(deadline - time.monotonic(), 0.0) + GRACE)
    with lock:
        if "client" in outcome:
            return outcome["client"]
        error = outcome.get("error")
        if error is None:
            outcome["abandoned"] = True
    raise _explained(address, timeout, error) from None


def _seconds(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise InvalidParameterError(f"timeout must be a number of seconds above 0; got {timeout!r}")
    return float(timeout)


def _no_answer(address: str, timeout: float, why: str) -> SvdlensError:
    return SvdlensError(
        f"no dask scheduler answered at {address} within {timeout:g} s ({why}); "
        "check the address, or give a longer timeout"
    )


def _not_dask(address: str, what: str) -> SvdlensError:
    return SvdlensError(
        f"the peer at {address} is not a dask scheduler: {what}; check the address and its port "
        "(a scheduler listens on 8786 by default; 8787 is its dashboard)"
    )


def _explained(address: str, timeout: float, error: BaseException | None) -> SvdlensError:
    """An svdlens error, one line, for what stopped the connection (None: the deadline passed)."""
    if error is None:
        return _no_answer(address, timeout, "the connection did not complete in time")
    if isinstance(error, SvdlensError):
        return error
    if isinstance(error, (OSError, TimeoutError)):  # refused, unreachable, timed out, closed by the peer
        return _no_answer(address, timeout, type(error).__name__)
    if isinstance(error, (ValueError, MemoryError, OverflowError)):  # dask's own reading of a stranger's bytes
        detail = " ".join(str(error).split())[:200]
        return _not_dask(address, f"dask could not read what it sent ({type(error).__name__}: {detail})")
    detail = " ".join(str(error).split())[:200]
    return SvdlensError(
        f"could not connect to the dask scheduler at {address}: {type(error).__name__}: {detail}; "
        "check the address and that the scheduler's distributed version matches this one"
    )


def _probe(address: str, deadline: float, timeout: float) -> None:
    """For a ``tcp://`` address: raise unless a dask handshake comes back before the deadline."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location) if scheme == "tcp" else ("", 0)
    except (ValueError, TypeError) as err:
        raise SvdlensError(
            f"{address!r} is not a dask scheduler address ({' '.join(str(err).split())}); "
            "give one such as tcp://10.0.0.5:8786"
        ) from None
    if scheme != "tcp":
        return  # tls://, inproc://, ucx://: dask's own connection, under the caller's deadline
    try:
        sock = socket.create_connection((host, port), timeout=max(deadline - time.monotonic(), 0.01))
    except OSError as err:  # refused, unreachable, no such host, or no answer to the connection itself
        raise _no_answer(address, timeout, type(err).__name__) from None
    with sock:
        try:
            (length,) = _FRAME.unpack(_receive(sock, _FRAME.size, deadline, address, timeout))
            if length > MAX_HANDSHAKE:
                raise _not_dask(
                    address, f"its first message announces {length} bytes, where dask's handshake has a few dozen"
                )
            message = _receive(sock, length, deadline, address, timeout)
        except TimeoutError:
            raise _no_answer(address, timeout, "it accepted the connection but sent nothing") from None
        except OSError as err:  # reset by the peer
            raise _no_answer(address, timeout, type(err).__name__) from None
    if not _is_handshake(message):
        raise _not_dask(address, f"its first message ({length} bytes) is not dask's handshake")


def _receive(sock: socket.socket, n: int, deadline: float, address: str, timeout: float) -> bytes:
    """Exactly ``n`` bytes (at most MAX_HANDSHAKE), or TimeoutError at the deadline."""
    data = bytearray()
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(n - len(data))
        if not chunk and not data:
            raise _no_answer(address, timeout, "it closed the connection before saying anything")
        if not chunk:
            raise _not_dask(address, "it closed the connection in the middle of its first message")
        data += chunk
    return bytes(data)


def _is_handshake(message: bytes) -> bool:
    """Frames (a count, their lengths, their bytes) of which one is a msgpack dict with dask's handshake keys."""
    if len(message) < _FRAME.size:
        return False
    (count,) = _FRAME.unpack_from(message)
    head = _FRAME.size * (1 + count)
    if not 1 <= count <= 16 or head > len(message):
        return False
    lengths = struct.unpack_from(f"{count}Q", message, _FRAME.size)
    if sum(lengths) != len(message) - head:
        return False
    try:
        import msgpack
    except ImportError:  # pragma: no cover - msgpack comes with distributed
        return b"pickle-protocol" in message
    start = head
    for length in lengths:
        try:
            value = msgpack.unpackb(message[start : start + length], raw=False, strict_map_key=False)
        except Exception:
            value = None
        if isinstance(value, dict) and ("python" in value or "pickle-protocol" in value):
            return True
        start += length
    return False


def _close_quietly(client: Any) -> None:
    try:
        client.close(timeout=2)
    except Exception:  # pragma: no cover - the client was abandoned; nothing to tell anyone
        pass

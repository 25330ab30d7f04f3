"""``svdlens._dask.connect``: a real scheduler connects; a silent or garbage peer gets a clear svdlens error in time.

Every peer is a TCP server on 127.0.0.1 started here, in a thread that stops when its test
ends (and by itself after :data:`Peer.LIFETIME` seconds at the latest). A garbage peer must be
refused by the probe, before dask's reader sees its bytes: ``distributed.Client`` is replaced
by a trap for those tests, and tracemalloc's peak shows that nothing large was allocated (eight
0xff bytes announce a message of 2⁶⁴ − 1 bytes, which dask's reader would try to allocate).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import tracemalloc

import pytest

from svdlens._dask import MAX_HANDSHAKE, connect
from svdlens.exceptions import InvalidParameterError, SvdlensError

distributed = pytest.importorskip("distributed")
msgpack = pytest.importorskip("msgpack")
pytest.importorskip("distributed.comm.addressing")  # what the probe imports, warm before tracemalloc starts

TIMEOUT = 1.0
SLACK = 2.5  # seconds past the timeout that an error may take on a busy two-core machine (measured: ~0.3)


def dask_frames(message: dict) -> bytes:
    """``message`` as dask's TCP comm writes it: total length, frame count, frame lengths, frames."""
    payload = msgpack.packb(message)
    body = struct.pack("QQ", 1, len(payload)) + payload
    return struct.pack("Q", len(body)) + body


HANDSHAKE = dask_frames({"compression": None, "python": (3, 11, 7), "pickle-protocol": 5})


class Peer:
    """A TCP server on 127.0.0.1 that sends ``greeting`` to each connection, then stays silent (or closes)."""

    LIFETIME = 30.0

    def __init__(self, greeting: bytes = b"", close: bool = False) -> None:
        self.greeting, self.close = greeting, close
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.address = f"tcp://127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        conns = []
        end = time.monotonic() + self.LIFETIME
        try:
            while not self._stop.is_set() and time.monotonic() < end:
                try:
                    conn, _ = self.server.accept()
                except TimeoutError:
                    continue
                self.accepted += 1
                try:
                    conn.sendall(self.greeting)
                except OSError:
                    pass
                if self.close:
                    conn.close()
                else:
                    conns.append(conn)
        finally:
            for conn in conns:
                conn.close()
            self.server.close()

    def __enter__(self) -> Peer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def timed(address: str, timeout: float = TIMEOUT) -> tuple[SvdlensError, float]:
    t0 = time.monotonic()
    with pytest.raises(SvdlensError) as info:
        connect(address, timeout)
    return info.value, time.monotonic() - t0


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and "--" not in text, text
    return text


def test_a_real_scheduler_connects():
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        for address in (cluster.scheduler_address, cluster.scheduler_address.removeprefix("tcp://")):
            client = connect(address, 10)
            try:
                assert client.submit(sum, [1, 2]).result() == 3
            finally:
                client.close()


def test_a_silent_peer_is_refused_within_the_timeout():
    with Peer() as peer:
        err, took = timed(peer.address)
    assert peer.accepted == 1
    assert "no dask scheduler answered" in one_line(err) and "sent nothing" in str(err), err
    assert "longer timeout" in str(err)
    assert TIMEOUT * 0.9 <= took < TIMEOUT + SLACK, took


def test_a_peer_that_shakes_hands_then_stalls_is_refused_at_the_deadline():
    """The probe passes; the client then waits for an answer that never comes: the deadline still holds."""
    with Peer(HANDSHAKE) as peer:
        err, took = timed(peer.address)
    assert "no dask scheduler answered" in one_line(err), err
    assert took < TIMEOUT + SLACK, took


def test_a_client_that_hangs_past_its_own_timeout_is_given_up_at_the_deadline_and_closed_later(monkeypatch):
    """The backstop: whatever dask does after the probe, the caller waits no longer than the deadline."""
    release, closed = threading.Event(), threading.Event()

    class Stuck:
        def __init__(self, address, timeout, set_as_default):
            release.wait(10)  # a client that ignores its timeout

        def close(self, timeout=None):
            closed.set()

    monkeypatch.setattr(distributed, "Client", Stuck)
    with Peer(HANDSHAKE) as peer:
        err, took = timed(peer.address)
    assert "no dask scheduler answered" in one_line(err) and "did not complete in time" in str(err), err
    assert TIMEOUT <= took < TIMEOUT + SLACK, took
    release.set()  # the client arrives after all: nobody holds it, so it is closed
    assert closed.wait(5)


GARBAGE = [
    ("eight 0xff bytes (2**64 - 1)", b"\xff" * 8, "announces 18446744073709551615 bytes"),
    ("a length of 1 TiB", struct.pack("Q", 1 << 40), "announces 1099511627776 bytes"),
    ("a length just above the cap", struct.pack("Q", MAX_HANDSHAKE + 1), f"announces {MAX_HANDSHAKE + 1} bytes"),
    ("bytes 0, 1, 2, ...", bytes(range(256)) * 16, "not a dask scheduler"),
    ("a small message that is not msgpack", struct.pack("Q", 24) + b"\x01" * 24, "is not dask's handshake"),
    ("msgpack that is not a handshake", dask_frames({"hello": "world"}), "is not dask's handshake"),
    ("an HTTP answer", b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "not a dask scheduler"),
    ("a message cut short", struct.pack("Q", 100) + b"\x00" * 10, "in the middle of its first message"),
]


@pytest.mark.parametrize(("greeting", "words"), [g[1:] for g in GARBAGE], ids=[g[0] for g in GARBAGE])
def test_a_peer_that_speaks_garbage_is_refused_quickly_without_a_large_allocation(monkeypatch, greeting, words):
    def trap(*args, **kwargs):
        raise AssertionError("dask's client must not read a stranger's bytes")

    monkeypatch.setattr(distributed, "Client", trap)
    close = words.startswith("in the middle")
    with Peer(greeting, close=close) as peer:
        tracemalloc.start()
        try:
            err, took = timed(peer.address)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    text = one_line(err)
    assert words in text and "check the address" in text, text
    assert "8786" in text or "longer timeout" in text, text
    assert took < TIMEOUT, took  # refused at once, not at the deadline
    assert peak < 16 << 20, f"{peak / 2**20:.1f} MiB allocated"


def test_a_peer_that_closes_at_once():
    with Peer(close=True) as peer:
        err, took = timed(peer.address)
    assert "no dask scheduler answered" in one_line(err) and "closed the connection" in str(err), err
    assert took < TIMEOUT + SLACK


def test_no_listener_and_bad_addresses_and_timeouts():
    with socket.create_server(("127.0.0.1", 0)) as s:
        free = s.getsockname()[1]  # closed again below: nothing listens there
    err, took = timed(f"tcp://127.0.0.1:{free}")
    assert "no dask scheduler answered" in one_line(err) and took < TIMEOUT + SLACK
    for bad in ("tcp://127.0.0.1", "nonsense", "tcp://127.0.0.1:port"):
        with pytest.raises(SvdlensError, match="is not a dask scheduler address.*tcp://10.0.0.5:8786"):
            connect(bad, TIMEOUT)
    for timeout in (0, -1, float("nan"), float("inf"), "1", True):
        with pytest.raises(InvalidParameterError, match="timeout must be a number of seconds above 0"):
            connect("tcp://127.0.0.1:9", timeout)  # type: ignore[arg-type]


def test_both_users_share_the_one_helper():
    """nets and faces connect through svdlens._dask; neither keeps a client constructor of its own."""
    import inspect

    import svdlens.faces._outofcore as outofcore
    import svdlens.nets._distributed as nets_distributed

    assert nets_distributed.connect is connect
    for module in (outofcore, nets_distributed):
        source = inspect.getsource(module)
        assert "Client(" not in source and "_dask import connect" in source

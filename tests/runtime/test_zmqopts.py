from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import zmq

from runtime.zmqopts import (
    LINGER_MS,
    Curve,
    CurveKeyError,
    CurveKeys,
    bind_address,
    configure,
    generate_keys,
    load_keys,
    secure,
    write_keys,
)


def test_options_applied() -> None:
    ctx = zmq.Context()
    try:
        push = configure(ctx.socket(zmq.PUSH), queue_depth=3, heartbeat_ms=500)
        pull = configure(ctx.socket(zmq.PULL), queue_depth=2, heartbeat_ms=1000)
        assert push.getsockopt(zmq.SNDHWM) == 3 and push.getsockopt(zmq.IMMEDIATE) == 1
        assert push.getsockopt(zmq.LINGER) == LINGER_MS and push.getsockopt(zmq.HEARTBEAT_IVL) == 500
        assert push.getsockopt(zmq.HEARTBEAT_TIMEOUT) == 1500
        assert pull.getsockopt(zmq.RCVHWM) == 2 and pull.getsockopt(zmq.IMMEDIATE) == 0
        push.close(0)
        pull.close(0)
    finally:
        ctx.term()


def test_bind_address() -> None:
    assert bind_address("0.0.0.0", 5601) == "tcp://*:5601"
    assert bind_address("127.0.0.1", 5601) == "tcp://127.0.0.1:5601"


def _pair(ctx: zmq.Context, curve: Curve) -> tuple[zmq.Socket, int]:
    pull = curve.server(ctx.socket(zmq.PULL))  # CURVE options before bind: they apply to the listener
    pull.linger = 0
    return pull, pull.bind_to_random_port("tcp://127.0.0.1")


def _try_send(ctx: zmq.Context, port: int, setup: Callable[[zmq.Socket], object]) -> zmq.Socket:
    push = ctx.socket(zmq.PUSH)
    push.linger = 0
    setup(push)
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send(b"hello")  # queued until a handshake succeeds (no IMMEDIATE here)
    return push


def test_only_a_peer_with_the_pipeline_key_can_connect() -> None:
    """Real sockets: the member is heard; a peer with its own key pair (knowing the server's public key)
    and a peer without CURVE are refused by the handshake and never deliver a byte."""
    keys, outsider = generate_keys(), generate_keys()
    server_ctx, client_ctx = zmq.Context(), zmq.Context()
    curve, member = Curve(server_ctx, keys), Curve(client_ctx, keys)
    sockets: list[zmq.Socket] = []
    try:
        pull, port = _pair(server_ctx, curve)
        sockets.append(pull)

        def intruder(sock: zmq.Socket) -> None:
            sock.curve_secretkey, sock.curve_publickey = outsider.secret, outsider.public
            sock.curve_serverkey = keys.public

        for setup in (intruder, lambda sock: None):
            sockets.append(_try_send(client_ctx, port, setup))
            assert pull.poll(1000) == 0
        sockets.append(_try_send(client_ctx, port, member.client))
        assert pull.poll(5000) and pull.recv() == b"hello"
    finally:
        for sock in sockets:
            sock.close(0)
        curve.close()
        member.close()
        server_ctx.term()
        client_ctx.term()


def test_keys_are_read_and_checked(tmp_path: Path) -> None:
    keys = generate_keys()
    assert load_keys(write_keys(tmp_path / "k", keys)) == keys
    assert (tmp_path / "k" / "curve.secret").stat().st_mode & 0o077 == 0
    with pytest.raises(CurveKeyError, match="cannot read"):
        load_keys(tmp_path / "missing")
    write_keys(tmp_path / "mixed", CurveKeys(generate_keys().public, keys.secret))
    with pytest.raises(CurveKeyError, match="is not the public key"):
        load_keys(tmp_path / "mixed")
    (tmp_path / "mixed" / "curve.public").write_bytes(b"short")
    with pytest.raises(CurveKeyError, match="40 Z85"):
        load_keys(tmp_path / "mixed")


def test_no_encryption_leaves_sockets_plain() -> None:
    ctx = zmq.Context()
    pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    try:
        assert secure(ctx, pull, push, "none", "") is None
        assert pull.getsockopt(zmq.MECHANISM) == zmq.NULL
    finally:
        pull.close(0)
        push.close(0)
        ctx.term()

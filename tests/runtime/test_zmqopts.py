from __future__ import annotations

import zmq

from runtime.zmqopts import LINGER_MS, bind_address, configure


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

"""ZeroMQ socket options shared by stages and the dispatcher.

* High-water marks count messages, not bytes: keep them at ``queueDepth`` (a few activations) so a slow
  or dead hop holds little memory and back-pressure reaches the dispatcher quickly.
* IMMEDIATE on PUSH: never queue a message for a peer that is not connected (a killed stage), so sends
  wait for a live peer instead of vanishing into a dead pipe.
* ZMTP heartbeats detect a peer that vanished without a TCP reset (a node pulled off the Wi-Fi).
* A short LINGER so shutdown never hangs on unsent activations (the dispatcher re-sends anyway).
"""

from __future__ import annotations

import zmq

LINGER_MS = 200


def configure(sock: zmq.Socket, queue_depth: int, heartbeat_ms: int) -> zmq.Socket:
    """Apply the common options to a PUSH or PULL socket before bind/connect."""
    sock.setsockopt(zmq.LINGER, LINGER_MS)
    sock.setsockopt(zmq.SNDHWM, queue_depth)
    sock.setsockopt(zmq.RCVHWM, queue_depth)
    sock.setsockopt(zmq.HEARTBEAT_IVL, heartbeat_ms)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * heartbeat_ms)
    sock.setsockopt(zmq.HEARTBEAT_TTL, 3 * heartbeat_ms)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
    if sock.type == zmq.PUSH:
        sock.setsockopt(zmq.IMMEDIATE, 1)
    return sock


def bind_address(address: str, port: int) -> str:
    """``tcp://`` endpoint to bind; ``0.0.0.0`` means every interface (ZeroMQ spells it ``*``)."""
    return f"tcp://{'*' if address in ('0.0.0.0', '') else address}:{port}"

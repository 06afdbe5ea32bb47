"""ZeroMQ socket options shared by stages and the dispatcher.

* High-water marks count messages, not bytes: keep them at ``queueDepth`` (a few activations) so a slow
  or dead hop holds little memory and back-pressure reaches the dispatcher quickly.
* IMMEDIATE on PUSH: never queue a message for a peer that is not connected (a killed stage), so sends
  wait for a live peer instead of vanishing into a dead pipe.
* ZMTP heartbeats detect a peer that vanished without a TCP reset (a node pulled off the Wi-Fi).
* A short LINGER so shutdown never hangs on unsent activations (the dispatcher re-sends anyway).

Encryption (``encryption: curve`` in the config): ZeroMQ CURVE on every hop with ONE key pair per
pipeline, mounted from a Kubernetes Secret. Every PULL (bind) is a CURVE server and every PUSH (connect) a
CURVE client, both with that key pair, and a ZAP handler on each server admits only a client that proves
it holds the pipeline's secret key (CURVE's vouch box), so a peer without the Secret can neither connect
nor read a hop. Per pipeline rather than per hop: every stage pod is already trusted with the activations
it relays and can feed the next stage whatever it likes, so per-hop keys would add a Secret per stage and
a key rotation per re-placement for no protection a compromised stage does not already defeat; the Secret
still keeps everyone outside the pipeline out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth.thread
from zmq.utils import z85

from runtime.files import read_regular

PUBLIC_KEY_FILE, SECRET_KEY_FILE = "curve.public", "curve.secret"
MAX_KEY_FILE_BYTES = 4096  # a Z85 key is 40 characters

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


class CurveKeyError(ValueError):
    """The pipeline's CURVE keys are missing or malformed (the message names the file)."""


@dataclass(frozen=True)
class CurveKeys:
    """The pipeline's CURVE key pair, Z85-encoded (40 characters each)."""

    public: bytes
    secret: bytes


def generate_keys() -> CurveKeys:
    public, secret = zmq.curve_keypair()
    return CurveKeys(public, secret)


def write_keys(keys_dir: str | Path, keys: CurveKeys) -> Path:
    """Write a key pair as the Secret's files would appear (owner-only), for local runs and tests."""
    directory = Path(keys_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, value in ((PUBLIC_KEY_FILE, keys.public), (SECRET_KEY_FILE, keys.secret)):
        path = directory / name
        path.touch(mode=0o600, exist_ok=True)
        path.write_bytes(value)
    return directory


def load_keys(keys_dir: str | Path) -> CurveKeys:
    """Read ``curve.public`` and ``curve.secret`` from a mounted Secret and check they are one pair."""
    keys = []
    for name in (PUBLIC_KEY_FILE, SECRET_KEY_FILE):
        path = Path(keys_dir) / name
        try:
            text = read_regular(path, MAX_KEY_FILE_BYTES).strip()
        except OSError as exc:
            raise CurveKeyError(f"cannot read CURVE key {path}: {exc.strerror}") from exc
        if len(text) != 40:
            raise CurveKeyError(f"CURVE key {path} must be 40 Z85 characters, got {len(text)}")
        try:
            z85.decode(text)
        except (ValueError, KeyError, IndexError) as exc:
            raise CurveKeyError(f"CURVE key {path} is not Z85") from exc
        keys.append(text)
    public, secret = keys
    if zmq.curve_public(secret) != public:
        raise CurveKeyError(f"{Path(keys_dir) / PUBLIC_KEY_FILE} is not the public key of {SECRET_KEY_FILE}")
    return CurveKeys(public, secret)


class _PipelineMembers:
    """ZAP credentials provider: only the pipeline's own public key may connect."""

    def __init__(self, public: bytes) -> None:
        self.public = public

    def callback(self, domain: str, key: bytes) -> bool:
        return key == self.public


class Curve:
    """CURVE on one process's sockets: a ZAP authenticator thread plus the socket options."""

    def __init__(self, ctx: zmq.Context, keys: CurveKeys) -> None:
        self.keys = keys
        # The authenticator must share the sockets' libzmq context (ZAP is inproc); a sync shadow lets
        # the asyncio dispatcher use the same thread-based authenticator as the stages.
        self.auth = zmq.auth.thread.ThreadAuthenticator(zmq.Context.shadow(ctx.underlying))
        self.auth.start()
        self.auth.configure_curve_callback("*", credentials_provider=_PipelineMembers(keys.public))
        self._lock = threading.Lock()

    def server(self, sock: zmq.Socket) -> zmq.Socket:
        """Before bind: accept only CURVE clients holding the pipeline key."""
        sock.curve_secretkey = self.keys.secret
        sock.curve_publickey = self.keys.public
        sock.curve_server = True
        return sock

    def client(self, sock: zmq.Socket) -> zmq.Socket:
        """Before connect: authenticate with the pipeline key to a server holding the same key."""
        sock.curve_secretkey = self.keys.secret
        sock.curve_publickey = self.keys.public
        sock.curve_serverkey = self.keys.public
        return sock

    def close(self) -> None:
        with self._lock:
            if self.auth.is_alive():
                self.auth.stop()


def secure(
    ctx: zmq.Context, pull: zmq.Socket, push: zmq.Socket, encryption_name: str, keys_dir: str
) -> Curve | None:
    """Apply the config's ``encryption`` to a process's PULL (server) and PUSH (client) sockets, before
    bind/connect; returns what must be closed at shutdown (None without encryption). Raises CurveKeyError
    when the keys cannot be read."""
    if encryption_name != "curve":
        return None
    curve = Curve(ctx, load_keys(keys_dir))
    curve.server(pull)
    curve.client(push)
    return curve

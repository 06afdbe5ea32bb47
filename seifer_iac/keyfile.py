"""The CURVE key pair `seifer render` puts in its key Secret: made once, kept beside the spec, not committed.

`seifer render` writes files for `kubectl apply`, so unlike Pulumi (which keeps the key in its encrypted
state) it needs somewhere stable to keep the key between renders, or every render would rotate it and a
re-apply would split a running chain in two. The first render creates `.seifer-keys/<pipeline>.json`
next to the spec (owner-only, in an owner-only folder holding a `.gitignore` of `*`), later renders reuse
it, so the rendered files stay byte-identical from one render to the next. Delete the file to rotate the
key (then re-apply and restart the pods).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from seifer_iac.manifests import secrets
from seifer_iac.spec.model import Spec

KEYS_DIR_NAME = ".seifer-keys"


class KeyFileError(ValueError):
    """The keys file exists but is not a key pair this tool wrote (the message names the file)."""


@dataclass(frozen=True)
class KeyFile:
    path: Path
    public: str
    secret: str
    created: bool


def keys_path(spec: Spec, spec_path: str | Path) -> Path:
    return Path(spec_path).resolve().parent / KEYS_DIR_NAME / f"{spec.name}.json"


def load_or_create(path: Path) -> KeyFile:
    """The key pair in ``path``, made (owner-only) if the file does not exist yet."""
    if path.exists():
        try:
            data = json.loads(path.read_text())
            public, secret = data["public"], data["secret"]
            valid = zmq.curve_public(secret.encode()).decode() == public
        except (OSError, ValueError, KeyError, TypeError, AttributeError, zmq.ZMQError) as exc:
            raise KeyFileError(f"{path}: not a CURVE key pair ({exc}); delete it to make a new one") from None
        if not valid:
            raise KeyFileError(f"{path}: public does not match secret; delete the file to make a new pair")
        return KeyFile(path, public, secret, created=False)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# CURVE keys of seifer render: never commit them\n*\n")
    public_b, secret_b = zmq.curve_keypair()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"public": public_b.decode(), "secret": secret_b.decode()}, out, indent=1)
    return KeyFile(path, public_b.decode(), secret_b.decode(), created=True)


def with_key_secret(
    spec: Spec, spec_path: str | Path, manifests: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], KeyFile | None]:
    """The manifests with the key Secret placed right after the Namespace (nothing for ``encryption:
    none``), and the key file used."""
    if not secrets.encrypted(spec):
        return manifests, None
    keys = load_or_create(keys_path(spec, spec_path))
    at = 1 if manifests and manifests[0]["kind"] == "Namespace" else 0
    secret = secrets.curve_secret(spec, keys.public, keys.secret)
    return [*manifests[:at], secret, *manifests[at:]], keys

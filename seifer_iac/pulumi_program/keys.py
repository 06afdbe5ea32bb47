"""The pipeline's CURVE key Secret in the Pulumi program: a Pulumi secret, never plain in state or logs.

Where the key comes from: the stack config secret ``seifer:curveSecretKey`` (40 Z85 characters, set with
``pulumi config set --secret``) when the operator provides one, else 32 random bytes made ONCE by a
``random.RandomBytes`` resource and kept, encrypted, in the stack's state. Either way the key is stable from
one ``pulumi up`` to the next, so nothing rolls; the rendered Deployments only name the Secret. The public
key is derived from the secret one (Curve25519), so the two cannot disagree.
"""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pulumi_random as random
import zmq
from zmq.utils import z85

from seifer_iac.manifests import secrets
from seifer_iac.spec.model import Spec

CONFIG_KEY = "curveSecretKey"
_PLACEHOLDER = "0" * 40


def _data(spec: Spec, secret_key: str) -> dict[str, str]:
    if len(secret_key) != 40:
        raise ValueError(f"seifer:{CONFIG_KEY} must be 40 Z85 characters (a CURVE secret key)")
    public = zmq.curve_public(secret_key.encode()).decode()
    return secrets.curve_secret(spec, public, secret_key)["data"]


def key_secret_manifests(spec: Spec, config: pulumi.Config) -> list[dict[str, Any]]:
    """The Secret manifest (its ``data`` a secret Output) for an encrypted pipeline, else nothing."""
    if not secrets.encrypted(spec):
        return []
    secret_key = config.get_secret(CONFIG_KEY)
    if secret_key is None:
        generated = random.RandomBytes(f"{spec.name}-curve-key", length=32)
        secret_key = generated.base64.apply(lambda raw: z85.encode(base64.b64decode(raw)).decode("ascii"))
    manifest = secrets.curve_secret(spec, _PLACEHOLDER, _PLACEHOLDER)
    manifest["data"] = pulumi.Output.secret(secret_key.apply(lambda key: _data(spec, key)))
    return [manifest]

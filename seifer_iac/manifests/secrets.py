"""The pipeline's CURVE key pair as Kubernetes sees it: a Secret mounted read-only into every runtime pod.

The manifests only ever NAME the Secret (``<pipeline>-curve``, fixed, so the rendered Deployments and
configs do not depend on the keys and stay byte-identical from run to run); its content is supplied by
whoever holds the keys: the Pulumi program from a stack config secret (encrypted in state, never in
logs), ``seifer up --local`` from a key pair it generates for the run. ``curve_secret`` builds the object
from the two Z85 strings without any crypto library, so this module stays in the pure core. Rotating keys
means replacing the Secret's content and restarting the pods (they read the keys once at start).
"""

from __future__ import annotations

import base64
from typing import Any

from seifer_iac.manifests.naming import object_labels
from seifer_iac.spec.model import Spec

KEYS_DIR = "/etc/seifer/keys"
PUBLIC_KEY_FILE, SECRET_KEY_FILE = "curve.public", "curve.secret"  # runtime/zmqopts.py reads these
KEYS_VOLUME = "curve-keys"


def encrypted(spec: Spec) -> bool:
    return spec.runtime.encryption == "curve"


def curve_secret_name(spec: Spec) -> str:
    return f"{spec.name}-curve"


def encryption_config(spec: Spec) -> dict[str, str]:
    """The runtime config's ``encryption`` object (schemas/stage-config.schema.json)."""
    return {"name": "curve", "keysDir": KEYS_DIR} if encrypted(spec) else {"name": "none"}


def keys_volume(spec: Spec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, mounts) for the key Secret: none without encryption. Group-readable only (the pod's
    fsGroup is the runtime user's), read-only, and only the two key files."""
    if not encrypted(spec):
        return [], []
    items = [{"key": name, "path": name} for name in (PUBLIC_KEY_FILE, SECRET_KEY_FILE)]
    volume = {
        "name": KEYS_VOLUME,
        "secret": {"secretName": curve_secret_name(spec), "defaultMode": 0o440, "items": items},
    }
    return [volume], [{"name": KEYS_VOLUME, "mountPath": KEYS_DIR, "readOnly": True}]


def curve_secret(spec: Spec, public_key: str, secret_key: str) -> dict[str, Any]:
    """The Secret object carrying a Z85 key pair (40 characters each)."""
    for label, key in (("public", public_key), ("secret", secret_key)):
        if len(key) != 40:
            raise ValueError(f"a CURVE {label} key is 40 Z85 characters, got {len(key)}")
    data = {PUBLIC_KEY_FILE: public_key, SECRET_KEY_FILE: secret_key}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": curve_secret_name(spec),
            "namespace": spec.namespace,
            "labels": object_labels(spec, "keys"),
        },
        "type": "Opaque",
        "immutable": True,
        "data": {name: base64.b64encode(value.encode()).decode("ascii") for name, value in data.items()},
    }

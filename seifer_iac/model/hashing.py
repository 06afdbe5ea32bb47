"""The model hash: sha256 of the canonical architecture JSON, then every weight's dtype, shape and bytes.

It identifies the model by content (a renamed file or a rebuilt application with the same seed has the same
hash), so profiles can be cached by it and plans can say which model they were made for.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def architecture_json(model: Any) -> bytes:
    import keras

    config = keras.saving.serialize_keras_object(model)
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def model_hash(model: Any) -> str:
    digest = hashlib.sha256(architecture_json(model))
    for variable in model.weights:
        array = np.ascontiguousarray(variable.numpy())
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()

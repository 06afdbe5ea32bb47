"""Partition blobs: one Keras sub-model as deterministic bytes, and back.

Why not a `.keras` file: keras' zip embeds the save date (and its metadata the keras version string in a
non-canonical JSON), so saving the same model twice gives different bytes. Blobs are content-addressed
(their sha256 names the ConfigMap chunks) and manifests must be byte-identical across runs, so the same
model and weights must always give the same bytes.

Format (``seifer.partition/v1``): an uncompressed zip whose entries are written in this fixed order with
a fixed timestamp (1980-01-01 00:00:00), fixed permissions and no extra fields:

- ``format``          the ASCII text ``seifer.partition/v1``
- ``config.json``     ``keras.saving.serialize_keras_object(model)`` as JSON with sorted keys and fixed
                      separators (the architecture, rebuilt with ``deserialize_keras_object``)
- ``weights/NNNNN.npy``  ``model.get_weights()[N]`` written by ``numpy.save`` (dtype, shape and raw bytes;
                      the ``.npy`` header is deterministic), in ``model.weights`` order, which a model
                      rebuilt from the same config reproduces, so ``set_weights`` puts every array back.

Entries are stored, not deflated: float weights barely compress, and zlib output could differ across
zlib versions, which would break content addressing. Loading needs only numpy and keras (the runtime
container); this module imports nothing from ``seifer_iac``. Custom layers are not supported: the runtime
can only rebuild layers keras itself knows, and deserialisation runs in keras' safe mode.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

FORMAT = b"seifer.partition/v1"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    info.create_system = 3  # unix, whatever the host is
    return info


def dump_partition(model) -> bytes:
    """Serialise a Keras model (its architecture and weights) into deterministic bytes."""
    import keras

    config = keras.saving.serialize_keras_object(model)
    config_json = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(_entry("format"), FORMAT)
        archive.writestr(_entry("config.json"), config_json)
        for index, array in enumerate(model.get_weights()):
            data = io.BytesIO()
            np.save(data, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(_entry(f"weights/{index:05d}.npy"), data.getvalue())
    return buffer.getvalue()


def load_partition(blob: bytes):
    """Rebuild the Keras model serialised by `dump_partition`; raises ValueError on a foreign blob."""
    import keras

    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except zipfile.BadZipFile as error:
        raise ValueError(f"not a partition blob: {error}") from error
    with archive:
        names = archive.namelist()
        if "format" not in names or archive.read("format") != FORMAT:
            raise ValueError(f"not a partition blob (expected format {FORMAT.decode()})")
        config = json.loads(archive.read("config.json"))
        weight_names = sorted(name for name in names if name.startswith("weights/"))
        weights = [np.load(io.BytesIO(archive.read(name)), allow_pickle=False) for name in weight_names]
    model = keras.saving.deserialize_keras_object(config)
    if len(weights) != len(model.weights):
        raise ValueError(
            f"partition blob holds {len(weights)} weight arrays, model needs {len(model.weights)}"
        )
    # A layer rebuilt from its config may hold a weight of another rank than the one saved (Normalization's
    # mean in EfficientNet: () rebuilt, (1,) saved); the values are the same, so match the rebuilt shape.
    shapes = [tuple(v.shape) for v in model.weights]
    model.set_weights(
        [
            w.reshape(shape) if w.shape != shape and w.size == np.prod(shape) else w
            for w, shape in zip(weights, shapes, strict=True)
        ]
    )
    return model

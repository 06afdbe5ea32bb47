"""runtime/partition.py: deterministic blobs that a fresh process with only keras can load and run."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from runtime.partition import dump_partition, load_partition
from seifer_iac.model.split import split_model

from .conftest import random_input
from .small_models import small_model

REPO = Path(__file__).resolve().parents[2]

FRESH = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from runtime.partition import dump_partition, load_partition
    work = Path(sys.argv[1])
    for blob_path in sorted(work.glob("*.blob")):
        model = load_partition(blob_path.read_bytes())
        x = np.load(blob_path.with_suffix(".in.npy"))
        np.save(blob_path.with_suffix(".out.npy"), np.asarray(model(x, training=False)))
        (blob_path.with_suffix(".again")).write_bytes(dump_partition(model))
    loaded = sorted(m for m in sys.modules if m == "seifer_iac" or m.startswith("seifer_iac."))
    (work / "seifer_modules.txt").write_text(",".join(loaded))
    from tests.model.small_models import small_model   # imports only keras
    (work / "small.fresh").write_bytes(dump_partition(small_model()))
    """
)


def test_roundtrip_in_process() -> None:
    model = small_model()
    blob = dump_partition(model)
    loaded = load_partition(blob)
    x = random_input(model)
    assert np.array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert dump_partition(loaded) == blob == dump_partition(model)


def test_blob_is_a_stored_zip_with_fixed_timestamps() -> None:
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(dump_partition(small_model())))
    names = archive.namelist()
    assert names[:2] == ["format", "config.json"] and names[2:] == sorted(names[2:])
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}


def test_foreign_blob_is_rejected() -> None:
    with pytest.raises(ValueError):
        load_partition(b"not a zip")


@pytest.mark.slow
def test_fresh_process_loads_and_reproduces(tmp_path: Path, application) -> None:
    """Partitions (one of ResNet50, one of the small model) loaded in a new interpreter give the same output,
    without importing seifer_iac, and re-serialise to the same bytes; the small model built there (same
    seed) serialises to the same bytes as here."""
    cases = {"small": (small_model(), [4], 1), "resnet": (application("ResNet50"), [12, 20], 1)}
    expected = {}
    for label, (model, boundaries, index) in cases.items():
        parts = split_model(model, boundaries)
        x = random_input(model)
        for part in parts[:index]:
            x = np.asarray(part(x, training=False))
        blob = dump_partition(parts[index])
        (tmp_path / f"{label}.blob").write_bytes(blob)
        np.save(tmp_path / f"{label}.in.npy", x)
        expected[label] = (blob, np.asarray(parts[index](x, training=False)))
    subprocess.run(
        [sys.executable, "-c", FRESH, str(tmp_path)], cwd=REPO, check=True, timeout=300, capture_output=True
    )
    assert (tmp_path / "seifer_modules.txt").read_text() == ""
    for label, (blob, output) in expected.items():
        fresh = np.load(tmp_path / f"{label}.out.npy")
        assert float(np.max(np.abs(fresh - output))) <= 1e-5
        assert (tmp_path / f"{label}.again").read_bytes() == blob
    here = dump_partition(small_model())
    assert (
        hashlib.sha256((tmp_path / "small.fresh").read_bytes()).hexdigest()
        == hashlib.sha256(here).hexdigest()
    )


def test_normalization_layers_round_trip_as_in_efficientnet():
    """Normalization's scalar `count` came back with shape (1,) and refused to load (every EfficientNet
    partition holding the stem failed on the tensorflow backend)."""
    import keras

    from seifer_iac.model.split import split_model

    inputs = keras.Input((8, 8, 3), name="input")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    x = keras.layers.Normalization(axis=-1, name="norm")(x)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    part = split_model(keras.Model(inputs, x), [1])[1]
    loaded = load_partition(dump_partition(part))
    sample = np.random.default_rng(0).random((1, 8, 8, 3), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict_on_batch(sample), part.predict_on_batch(sample))

"""Build or read the keras model a source names: a keras.applications name or a `.keras` file.

Application models are built with `weights=None` (weights cannot be downloaded here, and a deployment's
weights come from its own file anyway) after `keras.utils.set_random_seed(seed)`, so the same name, shape
and seed give the same weights in every process. Logits are kept (`classifier_activation=None`) so chained
partitions can be compared to the full model precisely. The input layer is named `input` explicitly: keras'
default names carry a per-process counter, which would make the architecture (and so the model hash and the
partition blobs) depend on how many models the process built before. For the same reason applications are
built under `fresh_layer_names()`: several (InceptionV3, InceptionResNetV2, DenseNet121) leave layers to
keras' automatic names (`conv2d_17`), which would otherwise continue from the process's earlier models.
"""

from __future__ import annotations

import collections
import contextlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seifer_iac.model.errors import ModelError

INPUT_NAME = "input"


def application_names() -> tuple[str, ...]:
    import keras

    return tuple(sorted(n for n in dir(keras.applications) if n[:1].isupper()))


def default_input_shape(name: str) -> tuple[int, ...]:
    """The application's native resolution (what its weights were trained at)."""
    native = {"InceptionV3": 299, "InceptionResNetV2": 299, "Xception": 299, "NASNetLarge": 331}
    efficient = {f"EfficientNetB{i}": s for i, s in enumerate((224, 240, 260, 300, 380, 456, 528, 600))}
    side = native.get(name) or efficient.get(name) or 224
    return (side, side, 3)


def check_application_name(name: str) -> None:
    names = application_names()
    if name not in names:
        close = [n for n in names if n.lower() == name.lower()]
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ModelError(f"unknown keras.applications model {name!r}{hint}")


@contextlib.contextmanager
def fresh_layer_names() -> Iterator[None]:
    """Keras' automatic layer names count from zero inside the block, as in a new process; the process's
    own counters are restored afterwards (names need only be unique within one model)."""
    from keras.src.backend.common import global_state

    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


def build_application(name: str, input_shape: tuple[int, ...] | None = None, seed: int = 0) -> Any:
    """A keras.applications model with seeded random weights; ModelError for an unknown name."""
    import keras

    check_application_name(name)
    shape = tuple(input_shape) if input_shape else default_input_shape(name)
    factory = getattr(keras.applications, name)
    kwargs: dict[str, Any] = {"weights": None, "input_tensor": keras.Input(shape=shape, name=INPUT_NAME)}
    if "classifier_activation" in inspect.signature(factory).parameters:
        kwargs["classifier_activation"] = None
    keras.utils.set_random_seed(seed)
    try:
        with fresh_layer_names():
            model = factory(**kwargs)
    except (ValueError, TypeError) as error:
        raise ModelError(
            f"cannot build {name} with input shape {shape}: {str(error).splitlines()[0]}"
        ) from error
    # Given an input tensor, applications wrap their input in a list; re-wrap so the model takes one tensor.
    return keras.Model(model.inputs[0], model.outputs[0], name=model.name)


def read_model_file(path: str | Path) -> Any:
    """A `.keras` file; ModelError if it is missing or cannot be rebuilt (e.g. custom layers)."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {str(path)!r} does not exist")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # keras raises many types; all mean "cannot use this file"
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelError(f"cannot load model file {str(path)!r}: {first}") from error

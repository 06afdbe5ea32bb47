"""Small keras models built in the tests (imports only keras, so a fresh runtime-like process can use it).

Every layer is named explicitly so a model built in another process has the same architecture JSON.
"""

from __future__ import annotations

import keras
from keras import layers


def small_model(seed: int = 0) -> keras.Model:
    """Stem, a residual block, an inception-like block, a head: 32x32x3 -> 10 logits.

    Cut points (9): stem_conv, stem_bn, stem_relu, res_add, res_out, mix_concat, mix_conv, pool, logits.
    Not cuts: the residual branch (res_conv_a, res_conv_b: the shortcut edge stays open) and the two
    inception branches (mix_a, mix_b: both open until mix_concat)."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((32, 32, 3), name="input")
    x = layers.Conv2D(8, 3, padding="same", name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    r = layers.Conv2D(8, 3, padding="same", activation="relu", name="res_conv_a")(x)
    r = layers.Conv2D(8, 1, name="res_conv_b")(r)
    x = layers.Add(name="res_add")([x, r])
    x = layers.Activation("relu", name="res_out")(x)
    a = layers.Conv2D(4, 1, name="mix_a")(x)
    b = layers.DepthwiseConv2D(3, padding="same", name="mix_b")(x)
    x = layers.Concatenate(name="mix_concat")([a, b])
    x = layers.SeparableConv2D(16, 3, strides=2, name="mix_conv")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(10, name="logits")(x)
    model = keras.Model(inputs, outputs, name="small")
    # Non-trivial BatchNormalization statistics, so a lost non-trainable weight would show in the outputs.
    bn = model.get_layer("stem_bn")
    bn.set_weights([w + 0.1 * (i + 1) for i, w in enumerate(bn.get_weights())])
    return model


SMALL_CUTS = (
    "stem_conv",
    "stem_bn",
    "stem_relu",
    "res_add",
    "res_out",
    "mix_concat",
    "mix_conv",
    "pool",
    "logits",
)


def two_input_model() -> keras.Model:
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    return keras.Model([a, b], layers.Dense(2, name="d")(layers.Concatenate(name="c")([a, b])), name="two_in")


def two_output_model() -> keras.Model:
    x = keras.Input((4,), name="x")
    h = layers.Dense(4, name="h")(x)
    return keras.Model(x, [layers.Dense(2, name="p")(h), layers.Dense(3, name="q")(h)], name="two_out")


def no_cut_model() -> keras.Model:
    """Two parallel branches joined by the output layer: the only cut point is the output itself."""
    x = keras.Input((4,), name="x")
    out = layers.Add(name="sum")([layers.Dense(4, name="p")(x), layers.Dense(4, name="q")(x)])
    return keras.Model(x, out, name="no_cut")


def shared_layer_model() -> keras.Model:
    x = keras.Input((4,), name="x")
    dense = layers.Dense(4, name="shared")
    return keras.Model(x, dense(dense(x)), name="shared")


class Doubler(layers.Layer):
    """A custom layer: the runtime container could not rebuild it."""

    def call(self, inputs):
        return inputs * 2.0


def custom_layer_model() -> keras.Model:
    x = keras.Input((4,), name="x")
    return keras.Model(x, layers.Dense(2, name="d")(Doubler(name="doubler")(x)), name="custom")


def sequential_model(seed: int = 0) -> keras.Sequential:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8,), name="x"),
            layers.Dense(16, activation="relu", name="d1"),
            layers.Dense(3, name="d2"),
        ],
        name="seq",
    )

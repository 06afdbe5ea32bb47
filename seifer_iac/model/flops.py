"""Analytic FLOPs of one layer call at batch size 1: what the planner divides by a node's FLOP/s.

Conventions (documented because the planner's compute times depend on them):
- a multiply-add is 2 FLOPs; a bias add or a fused activation is 1 FLOP per output element;
- convolutions of every kind (Conv1D/2D/3D with groups, DepthwiseConv, Dense, EinsumDense) do
  `output positions x kernel size` multiply-adds, where positions = output elements / output channels;
  SeparableConv adds its depthwise and pointwise kernels; transposed convolutions do
  `input positions x kernel size`;
- BatchNormalization at inference (scale and shift), Rescaling and Normalization: 2 per element;
  Layer/Group/Unit normalisation: 5 per element; activations: 1 per element;
- pooling: pool window size per output element; global pooling: 1 per input element;
- merges (Add, Multiply, Subtract, Average, Maximum, Minimum): (inputs - 1) per output element;
- copies (Concatenate, ZeroPadding, Cropping, UpSampling): 1 per output element (they cost memory traffic);
- views and inference no-ops (Reshape, Flatten, Dropout, Permute, Identity, InputLayer, ...): 0;
- anything else: 1 per output element plus 2 per parameter (each weight used at least once).
"""

from __future__ import annotations

import math
from typing import Any

_VIEWS = frozenset(
    {
        "InputLayer",
        "Reshape",
        "Flatten",
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
        "Identity",
        "Permute",
        "Masking",
    }
)
_COPIES = ("Concatenate", "ZeroPadding", "Cropping", "UpSampling", "RepeatVector")
_MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
_ACTIVATIONS = frozenset({"Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "ThresholdedReLU"})
_TWO_PER_ELEMENT = frozenset({"BatchNormalization", "Rescaling", "Normalization"})
_FIVE_PER_ELEMENT = frozenset(
    {"LayerNormalization", "GroupNormalization", "UnitNormalization", "RMSNormalization"}
)


def _size(shape: Any) -> int:
    return math.prod(int(d) for d in shape)


def _channels(layer: Any, shape: tuple[int, ...]) -> int:
    axis = 1 if getattr(layer, "data_format", "channels_last") == "channels_first" and len(shape) > 2 else -1
    return max(1, int(shape[axis]))


def _epilogue(layer: Any, out: int) -> int:
    """Bias and fused activation of a conv/dense layer."""
    flops = out if getattr(layer, "use_bias", False) else 0
    activation = getattr(layer, "activation", None)
    if activation is not None and getattr(activation, "__name__", "linear") != "linear":
        flops += out
    return flops


def layer_flops(layer: Any, in_shapes: list[tuple[int, ...]], out_shapes: list[tuple[int, ...]]) -> int:
    """FLOPs of one call of `layer` with these input and output shapes (batch axis already 1)."""
    kind = type(layer).__name__
    out = sum(_size(s) for s in out_shapes)
    if kind in _VIEWS:
        return 0
    if kind.startswith("SeparableConv"):
        macs = (
            out
            // _channels(layer, out_shapes[0])
            * (_size(layer.depthwise_kernel.shape) + _size(layer.pointwise_kernel.shape))
        )
        return 2 * macs + _epilogue(layer, out)
    if "Transpose" in kind and hasattr(layer, "kernel"):
        positions = _size(in_shapes[0]) // _channels(layer, in_shapes[0])
        return 2 * positions * _size(layer.kernel.shape) + _epilogue(layer, out)
    if (kind.startswith(("Conv", "DepthwiseConv")) or kind in ("Dense", "EinsumDense")) and hasattr(
        layer, "kernel"
    ):
        positions = out // _channels(layer, out_shapes[0])
        return 2 * positions * _size(layer.kernel.shape) + _epilogue(layer, out)
    if kind in _TWO_PER_ELEMENT:
        return 2 * out
    if kind in _FIVE_PER_ELEMENT:
        return 5 * out
    if kind in _ACTIVATIONS:
        return out
    if kind.startswith("Global") and "Pooling" in kind:
        return sum(_size(s) for s in in_shapes)
    if "Pooling" in kind and hasattr(layer, "pool_size"):
        return out * _size(layer.pool_size)
    if kind in _MERGES:
        return max(1, len(in_shapes) - 1) * out
    if kind.startswith(_COPIES):
        return out
    params = layer.count_params() if getattr(layer, "built", False) else 0
    return out + 2 * params

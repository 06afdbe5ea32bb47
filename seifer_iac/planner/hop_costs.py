"""The per-hop and codec costs the runtime pays, as measured on real frames and codecs.

`hop_costs.json` beside this module holds the figures and the command that measured them (`seifer bench
hops --write seifer_iac/planner/hop_costs.json`, seifer_iac/bench/hop_measure.py): a fixed cost per hop
(frame header, CRC, one ZeroMQ send and receive of a tiny tensor over loopback) and, per codec, the seconds
per raw byte to encode and to decode a ReLU-like float32 activation (least squares over 64 KiB - 4 MiB).
They are this machine's figures (x86_64, see the file); a slower CPU pays more, which the planner does not
scale (documented in the README).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seifer_iac.planner.cost import HopCosts
from seifer_iac.spec.model import Codec

FIGURES = Path(__file__).with_name("hop_costs.json")


def codec_key(codec: Codec) -> str:
    """The table's key for a codec: none, lz4, zfp/rate, zfp/precision, zfp/tolerance, zfp/reversible."""
    return codec.name if codec.name != "zfp" else f"zfp/{codec.mode}"


def hop_costs_from(figures: dict[str, Any], codec: Codec) -> HopCosts:
    """HopCosts of one codec from a figures document (the committed file's format)."""
    row = figures["codecs"].get(codec_key(codec)) or figures["codecs"]["none"]
    return HopCosts(
        fixed_s=float(figures["fixed_s"]),
        decode_s_per_byte=float(row["decode_s_per_byte"]),
        encode_s_per_byte=float(row["encode_s_per_byte"]),
    )


def measured_hop_costs(codec: Codec | None = None, path: Path = FIGURES) -> HopCosts:
    """The committed measured costs for `codec` (default: none)."""
    return hop_costs_from(json.loads(path.read_text()), codec or Codec())

"""The per-hop and codec costs the runtime pays, as measured on a real stage process, real frames and codecs.

`hop_costs.json` beside this module holds the figures and the command that measured them (`sudo seifer
bench hops --write seifer_iac/planner/hop_costs.json`, seifer_iac/bench/hop_measure.py and hop_relay.py):

- `relay`, per encryption (none, curve): what a `runtime.stage` process (LiteRT, one thread) spends per
  request besides its layers, fitted as a fixed cost plus seconds per input byte (ZeroMQ receive, CURVE
  decryption, frame checks, CRC, the copy into the interpreter) and per output byte (the copy out, frame,
  CRC, encryption, send), with the codec `none`, across an emulated 50 Mbit/s link (as the cluster
  emulator's nodes pay it; root) or loopback;
- `codecs`: per codec, the seconds per raw byte to encode and to decode a ReLU-like float32 activation
  in-process; a codec's cost beyond `none`'s is added to the relay's;
- `host_flops_per_s`: what one core of the measuring host computes (ResNet50, LiteRT fp32, CPU time: the
  emulator's calibration). The work is CPU work, so a node of speed s pays it x host_flops_per_s / s
  (`HopCosts.scale`), as a CPU quota makes the emulated node pay it.
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


def hop_costs_from(figures: dict[str, Any], codec: Codec, encryption: str = "none") -> HopCosts:
    """HopCosts of one codec and encryption from a figures document (the committed file's format)."""
    codecs = figures["codecs"]
    row, none = codecs.get(codec_key(codec)) or codecs["none"], codecs["none"]
    relay = figures.get("relay", {}).get(encryption)
    if relay is None:  # an older document: the in-process codec figures and a loopback hop only
        return HopCosts(
            fixed_s=float(figures["fixed_s"]),
            decode_s_per_byte=float(row["decode_s_per_byte"]),
            encode_s_per_byte=float(row["encode_s_per_byte"]),
            host_flops_per_s=float(figures.get("host_flops_per_s", 0.0)),
        )
    extra_decode = max(0.0, float(row["decode_s_per_byte"]) - float(none["decode_s_per_byte"]))
    extra_encode = max(0.0, float(row["encode_s_per_byte"]) - float(none["encode_s_per_byte"]))
    return HopCosts(
        fixed_s=float(relay["fixed_s"]),
        decode_s_per_byte=float(relay["in_s_per_byte"]) + extra_decode,
        encode_s_per_byte=float(relay["out_s_per_byte"]) + extra_encode,
        host_flops_per_s=float(figures["host_flops_per_s"]),
    )


def measured_hop_costs(
    codec: Codec | None = None, encryption: str = "none", path: Path = FIGURES
) -> HopCosts:
    """The committed measured costs for `codec` (default: none) and `encryption` (none | curve)."""
    return hop_costs_from(json.loads(path.read_text()), codec or Codec(), encryption)

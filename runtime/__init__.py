"""SEIFER runtime: what the container runs (stage worker, dispatcher, frames, codecs, weight loader).

Imports nothing from ``seifer_iac`` or ``pulumi`` (an import-linter contract enforces it), so the runtime
image carries only TensorFlow, pyzmq, lz4, zfpy, aiohttp, numpy and jsonschema.
"""

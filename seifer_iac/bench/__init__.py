"""Benchmark data: precomputed profiles of the research's models (`profiles/*.json`)."""

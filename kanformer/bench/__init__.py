"""Measurement: layer micro-benchmarks now; model-level benchmarks later."""

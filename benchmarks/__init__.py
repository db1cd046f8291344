"""Benchmarks: speed and accuracy targets, measured and written to docs/ and benchmarks/results/."""

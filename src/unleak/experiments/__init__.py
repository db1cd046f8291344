"""Experiments: single runs (train, unlearn, audit) and sweeps over many of them."""

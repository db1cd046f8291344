"""Experiments: model cases, the attack harness, shadow calibration, the audit, sweeps, and the
one-model jobs behind ``unleak train|unlearn|attack``."""

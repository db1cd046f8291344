"""Evaluation: unlearning efficacy, attack success rates and their intervals, result tables."""

from unleak.evaluation.efficacy import Efficacy, efficacy

__all__ = ["Efficacy", "efficacy"]

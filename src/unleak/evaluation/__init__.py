"""Evaluation: unlearning efficacy, attack success rates and their intervals, result tables."""

from unleak.evaluation.efficacy import Efficacy, efficacy
from unleak.evaluation.metrics import chance, summarize, wilson

__all__ = ["Efficacy", "chance", "efficacy", "summarize", "wilson"]

"""Evaluation: unlearning efficacy, attack success rates and their intervals, result tables."""

from unleak.evaluation.efficacy import Efficacy, efficacy
from unleak.evaluation.metrics import chance, summarize, wilson
from unleak.evaluation.results import ResultRow, Results, label_of

__all__ = [
    "Efficacy",
    "ResultRow",
    "Results",
    "chance",
    "efficacy",
    "label_of",
    "summarize",
    "wilson",
]

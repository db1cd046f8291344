"""ME+GD (``max-entropy``) on digits: its forget term is the KL from uniform, and it forgets the
class and keeps the rest."""

from __future__ import annotations

import math

import torch

import unleak.unlearning.max_entropy  # noqa: F401  (registers the method)
from unleak.evaluation import efficacy
from unleak.unlearning import run_unlearning
from unleak.unlearning.max_entropy import uniform_kl


def test_max_entropy_forgets_the_classes_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([2, 5, 8])
    before = efficacy(digits_original.model, digits.test, [2, 5, 8])
    run = run_unlearning("max-entropy", digits_original.model, retain, fs, dataset="digits", seed=1)
    eff = efficacy(run.model, digits.test, [2, 5, 8])
    assert before.forget_acc >= 0.9  # measured 0.993
    assert eff.forget_acc <= 0.15  # measured 0.007
    assert eff.retain_acc >= before.retain_acc - 0.03  # measured 0.994 -> 1.000


def test_a_heavier_entropy_term_forgets_a_small_forget_set_faster(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    light, heavy = (
        efficacy(
            run_unlearning(
                "max-entropy",
                digits_original.model,
                retain,
                fs,
                {"forget_weight": w},
                dataset="digits",
                seed=1,
            ).model,
            digits.test,
            [3],
        )
        for w in (0.1, 1.0)
    )
    assert heavy.forget_acc <= 0.15  # measured 0.000
    assert light.forget_acc >= heavy.forget_acc + 0.2  # measured 0.391: 5 epochs of 6 batches
    assert heavy.retain_acc >= 0.95  # measured 0.985


def test_uniform_kl_is_zero_at_uniform_and_the_kl_elsewhere():
    assert abs(float(uniform_kl(torch.zeros(3, 10)))) < 1e-6
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    p = torch.softmax(logits, 1)
    expected = (torch.full((3,), 1 / 3) * torch.log((1 / 3) / p)).sum()
    torch.testing.assert_close(uniform_kl(logits), expected)
    assert float(uniform_kl(logits)) > 0 and math.isfinite(float(uniform_kl(logits)))

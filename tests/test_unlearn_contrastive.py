"""Contrastive unlearning (``contrastive``) on digits: its loss is the authors' ``Loss_v1``, and
at ten times their rate it forgets the class and keeps the rest."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import unleak.unlearning.contrastive  # noqa: F401  (registers the method)
from unleak.errors import ConfigError
from unleak.evaluation import efficacy
from unleak.unlearning import run_unlearning
from unleak.unlearning.contrastive import contrastive_term


def test_contrastive_forgets_the_class_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([2, 5, 8])
    before = efficacy(digits_original.model, digits.test, [2, 5, 8])
    run = run_unlearning(
        "contrastive", digits_original.model, retain, fs, {"lr": 0.01}, dataset="digits", seed=1
    )
    eff = efficacy(run.model, digits.test, [2, 5, 8])
    assert before.forget_acc >= 0.9  # measured 0.993
    assert eff.forget_acc <= 0.15  # measured 0.000
    assert eff.retain_acc >= before.retain_acc - 0.05  # measured 0.994 -> 0.994


def test_contrastive_at_the_authors_rate_only_weakens_a_small_forget_set(digits, digits_original):
    # 2 forget batches x 4 retained steps x 3 epochs = 24 SGD steps at lr 1e-3
    retain, fs = digits.train.split_classes([3])
    run = run_unlearning("contrastive", digits_original.model, retain, fs, dataset="digits", seed=1)
    eff = efficacy(run.model, digits.test, [3])
    assert 0.5 <= eff.forget_acc <= 0.95  # measured 0.826 (from 0.978)
    assert eff.retain_acc >= 0.95  # measured 0.990


def test_contrastive_term_without_positives_pulls_forget_into_retained():
    torch.manual_seed(0)
    u = F.normalize(torch.randn(4, 6), dim=1)
    r = F.normalize(torch.randn(5, 6), dim=1)
    yu, yr = torch.tensor([3, 3, 3, 3]), torch.tensor([0, 1, 2, 4, 5])
    t = 0.7
    value = contrastive_term(u, r, yu, yr, t)
    # no retained sample shares the anchor's class: -mean(u.r/T - max_row(u.r/T))
    logits = u @ r.T / t
    expected = -(logits - logits.max(1, keepdim=True).values).mean()
    torch.testing.assert_close(value, expected)
    # its gradient raises every forget/retained similarity
    u2 = u.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(contrastive_term(u2, r, yu, yr, t), u2)
    torch.testing.assert_close(g, -(r.mean(0) / t / len(u)).expand_as(u))


def test_contrastive_term_with_a_positive_subtracts_its_log_sum():
    u = torch.tensor([[1.0, 0.0]])
    r = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    value = contrastive_term(u, r, torch.tensor([0]), torch.tensor([0, 1]), 1.0)
    # logits (1, 0) - max 1 = (0, -1); positive sum exp(0) = 1; negatives: the second, -1
    torch.testing.assert_close(value, torch.tensor(1.0))


def test_contrastive_needs_retained_data(digits, digits_original):
    _, fs = digits.train.split_classes([3])
    empty = digits.train.take(torch.zeros(0, dtype=torch.long))
    with pytest.raises(ConfigError, match="retained"):
        run_unlearning("contrastive", digits_original.model, empty, fs, dataset="digits")

"""Linear filtration (``filtration``) on digits: the forgotten class is never answered, the
retained answers stay put, and the filtration maps each class's mean logits where the authors'
``filtration_matrix`` says."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import unleak.unlearning.filtration  # noqa: F401  (registers the method)
from unleak.errors import ConfigError
from unleak.evaluation import efficacy
from unleak.models.inference import predict_logits
from unleak.unlearning import run_unlearning
from unleak.unlearning.filtration import class_means, filtration_matrix


def test_filtration_removes_the_class_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    before = efficacy(digits_original.model, digits.test, [3])
    run = run_unlearning("filtration", digits_original.model, retain, fs, dataset="digits", seed=1)
    eff = efficacy(run.model, digits.test, [3])
    assert before.forget_acc >= 0.9  # measured 0.978
    assert eff.forget_acc == 0.0  # measured 0.000: its logit is 20 nats under the lowest kept
    assert eff.retain_acc >= before.retain_acc - 0.01  # measured 0.993 -> 0.993
    p = predict_logits(run.model, digits.test.x).softmax(1)
    assert float(p[:, 3].max()) < 1e-6  # measured 3e-15
    # a forgotten image's answer favours no retained class as the original favoured class 3
    on_3 = p[digits.test.y == 3]
    assert float(on_3.max(1).values.mean()) <= 0.8  # measured 0.56, the original's 1.00
    # the original itself is untouched (the harness hands methods a copy)
    assert efficacy(digits_original.model, digits.test, [3]).forget_acc == before.forget_acc


def test_filtration_matrix_maps_class_means_to_the_filtered_columns():
    gen = torch.Generator().manual_seed(0)
    a = torch.eye(4, dtype=torch.float64) * 5 + torch.rand(4, 4, generator=gen, dtype=torch.float64)
    kept = [0, 2, 3]
    for mode in ("normalization", "zeroing", "randomization"):
        f = filtration_matrix(a, (1,), mode, torch.Generator().manual_seed(1))
        mapped = f @ a  # F A = B: the retained classes' means keep their retained rows
        torch.testing.assert_close(mapped[:, kept], a[kept][:, kept])
    f = filtration_matrix(a, (1,), "normalization", gen)
    # normalization: the forgotten column is shifted to the retained block's mean
    torch.testing.assert_close((f @ a)[:, 1].mean(), a[kept][:, kept].mean())
    assert torch.equal(filtration_matrix(a, (1,), "naive", gen), torch.eye(4, dtype=a.dtype)[kept])


def test_filtration_refuses_a_class_without_images_and_a_singular_matrix():
    with pytest.raises(ConfigError, match="every class"):
        class_means(torch.zeros(3, 3), torch.tensor([0, 0, 2]), 3)
    with pytest.raises(ConfigError, match="singular"):
        filtration_matrix(torch.ones(3, 3), (0,), "zeroing", torch.Generator())


def test_filtration_needs_a_head_with_a_bias(digits):
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10, bias=False))
    retain, fs = digits.train.split_classes([3])
    with pytest.raises(ConfigError, match="bias"):
        run_unlearning("filtration", model, retain, fs, dataset="digits", seed=1)

"""DUCK (``duck``): forget embeddings pulled to the nearest centroid of another class, on real
digits; the target rule on a toy; the one-line error for a model without a linear head."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unleak.unlearning.duck  # noqa: F401  (registers the method)
from unleak import models
from unleak.data.core import Split
from unleak.errors import ConfigError
from unleak.evaluation import efficacy
from unleak.unlearning import run_unlearning
from unleak.unlearning.duck import DUCKConfig, class_centroids, duck_loss


def _nearest_centroid_distance(model, reference, retain, forget) -> float:
    """Mean cosine distance of ``model``'s forget embeddings to the nearest centroid of the
    retained classes, the centroids read from ``reference``."""
    fc0 = models.head(reference)
    gen = torch.Generator().manual_seed(0)
    centroids, _ = class_centroids(reference, fc0, retain, len(retain), gen)
    emb = models.penultimate(model, forget.x, fc=models.head(model))
    cos = F.normalize(emb, dim=1) @ F.normalize(centroids, dim=1).T
    return float((1 - cos).min(1).values.mean())


def test_duck_moves_the_forget_class_onto_other_centroids(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    original = digits_original.model
    run = run_unlearning("duck", original, retain, fs, dataset="digits", seed=1)
    assert run.history.stopped.startswith("forget accuracy")  # the authors' target, 0.01
    # one epoch is min(41, ceil(1210 / 256)) = 5 passes over the one forget batch
    assert run.history.steps % 5 == 0 and run.history.steps <= 50  # measured 30 (6 epochs)
    before = _nearest_centroid_distance(original, original, retain, fs)
    after = _nearest_centroid_distance(run.model, original, retain, fs)
    assert after <= before - 0.1  # measured 0.37 -> 0.07
    eff = efficacy(run.model, digits.test, [3])
    assert efficacy(original, digits.test, [3]).forget_acc >= 0.9
    # measured 0.02 on one CPU, 0.11 on another (the original: 0.98): the stop reads the forget
    # *training* batch, so the test split lands near, not under, the authors' target
    assert eff.forget_acc <= 0.15
    assert eff.retain_acc >= 0.95  # measured 1.00 (the original: 0.99)


def test_duck_targets_the_nearest_centroid_of_another_class():
    fc = nn.Linear(2, 3)
    model = nn.Sequential(nn.Flatten(), fc)  # the embedding is the input itself
    centroids = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    classes = torch.tensor([0, 1, 2])
    retain = Split(torch.zeros(4, 1, 1, 2), torch.tensor([0, 1, 2, 0]), 3)
    cfg = DUCKConfig(lambda_1=1.0, lambda_2=0.0, batch_size=2)
    loss = duck_loss(fc, centroids, classes, retain, cfg, torch.Generator().manual_seed(0))
    x = torch.tensor([1.0, 0.1]).view(1, 1, 1, 2)  # nearest is its own class 0: class 1 is next
    value, logits = loss(model, x, torch.tensor([0]))
    assert logits.shape == (1, 3)
    expected = 1 - 0.1 / torch.tensor(1.01).sqrt()
    assert float(value.detach()) == pytest.approx(float(expected), abs=1e-6)


def test_duck_needs_a_linear_head(digits):
    retain, fs = digits.train.split_classes([3])
    headless = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.ReLU())
    with pytest.raises(ConfigError, match=r"duck needs a final nn\.Linear"):
        run_unlearning("duck", headless, retain, fs, {"epochs": 1}, seed=1)

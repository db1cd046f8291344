"""SCRUB, SalUn, l1-sparse and Boundary Shrink, each in its own mechanism (that each forgets on
real digits and keeps the rest is tests/test_unlearning.py's test of every method)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from unleak.unlearning import run_unlearning
from unleak.unlearning.base import UnlearnContext
from unleak.unlearning.boundary_shrink import nearest_labels
from unleak.unlearning.l1_sparse import L1SparseConfig, l1_loss
from unleak.unlearning.salun import SalUnConfig, saliency_mask, salun


def test_scrub_is_deterministic_across_its_passes(digits, digits_original):
    retain, fs = digits.train.split_classes([5])
    short = {"epochs": 1.5, "msteps": 1}
    a, b = (
        run_unlearning("scrub", digits_original.model, retain, fs, short, dataset="digits", seed=3)
        for _ in range(2)
    )
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=0, rtol=0)
    assert [e.epoch for e in a.history.epochs] == [0, 0, 1]  # max + min, then half a min pass


def test_salun_updates_only_the_salient_weights(digits, digits_original):
    retain, fs = digits.train.split_classes([2])
    model = copy.deepcopy(digits_original.model)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = SalUnConfig(epochs=1, lr=0.05, batch_size=64, mask_ratio=0.2)
    mask = saliency_mask(model, fs, cfg.mask_ratio, cfg.batch_size)
    kept = sum(int(m.sum()) for m in mask.values())
    assert kept == int(0.2 * sum(m.numel() for m in mask.values()))
    ctx = UnlearnContext(forget_classes=(2,), num_classes=10)
    salun(model, retain, fs, cfg, ctx)
    for n, p in model.named_parameters():
        frozen = mask[n] == 0
        torch.testing.assert_close(p[frozen], start[n][frozen], atol=0, rtol=0)
    assert any(not torch.equal(p, start[n]) for n, p in model.named_parameters())
    # the gradient hooks are gone: a plain backward reaches the weights outside the mask again
    model.zero_grad()
    model(fs.x[:4]).sum().backward()
    assert sum(float((p.grad.abs() * (1 - mask[n])).sum()) for n, p in model.named_parameters())


def test_l1_penalty_decays_linearly_per_epoch():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)  # ||theta||_1 = 4
    x, y = torch.zeros(1, 2), torch.zeros(1, dtype=torch.long)
    loss = l1_loss(L1SparseConfig(epochs=4, alpha=0.5, no_l1_epochs=2), steps_per_epoch=2)
    ce = float(torch.log(torch.tensor(2.0)))
    penalties = [float(loss(model, x, y)[0].detach()) - ce for _ in range(8)]
    expected = [2.0, 2.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]  # alpha * (1 - e/2) * 4, then none
    assert penalties == pytest.approx(expected, abs=1e-6)


def test_boundary_shrink_relabels_with_a_wrong_class(digits, digits_original):
    _, fs = digits.train.split_classes([1, 7])
    probe = digits_original.model
    labels = nearest_labels(probe, fs, 0.1, True, 64)
    assert labels.shape == fs.y.shape and not torch.any(labels == fs.y)
    plain = nearest_labels(probe, fs, 0.1, False, 64)
    assert torch.equal(labels[plain != fs.y], plain[plain != fs.y])

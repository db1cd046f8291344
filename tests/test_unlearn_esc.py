"""ESC (``esc``) on real digits: the forget data's top feature directions erased from the head."""

from __future__ import annotations

import torch

import unleak.unlearning.esc  # noqa: F401
from unleak import models
from unleak.evaluation import efficacy
from unleak.unlearning import run_unlearning
from unleak.unlearning.esc import erased_count, erased_directions


def test_esc_forgets_one_class_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    run = run_unlearning("esc", digits_original.model, retain, fs, dataset="digits", seed=1)
    before = efficacy(digits_original.model, digits.test, [3])
    eff = efficacy(run.model, digits.test, [3])
    assert before.forget_acc >= 0.9  # measured 0.978
    assert eff.forget_acc <= 0.15  # measured 0.043, one of 128 directions erased
    assert eff.retain_acc >= before.retain_acc - 0.02  # measured 0.993 -> 0.990
    assert run.history.stopped == "no training"


def test_the_head_edit_is_the_projection_off_the_top_directions(digits, digits_original):
    original = digits_original.model
    retain, fs = digits.train.split_classes([3])
    model = run_unlearning("esc", original, retain, fs, dataset="digits").model
    fc = models.head(original)
    feats = models.penultimate(original, fs.x).double()
    u = erased_directions(feats, 1.5)
    assert fc.in_features == 128 and u.shape == (128, 1)  # int(128 x 1.5 / 100) = 1
    # the top direction of the uncentred features: |F u|^2 is F^T F's largest eigenvalue
    top = torch.linalg.eigvalsh(feats.T @ feats)[-1]
    assert torch.allclose((feats @ u).square().sum(), top, rtol=1e-8)
    # only the head's weight changed, to W (I - U U^T)
    new = model.state_dict()
    changed = [n for n, p in original.state_dict().items() if not torch.equal(p, new[n])]
    assert changed == ["fc.weight"]
    w = fc.weight.detach().double()
    want = w @ (torch.eye(128, dtype=torch.float64) - u @ u.T)
    assert torch.allclose(model.fc.weight.double(), want, atol=1e-6)
    # the head is blind to the erased direction, and sees the projected features as the original
    # features: the logits are those of (I - U U^T) f, orthogonal to U
    assert (model.fc.weight.double() @ u).abs().max() < 1e-5
    proj = feats - (feats @ u) @ u.T
    assert (proj @ u).abs().max() < 1e-8
    logits = model(fs.x[:64]).double()
    assert torch.allclose(logits, proj[:64] @ want.T + fc.bias.double(), atol=1e-4)


def test_more_directions_forget_two_classes(digits, digits_original):
    retain, fs = digits.train.split_classes([1, 7])
    one = run_unlearning("esc", digits_original.model, retain, fs, dataset="digits").model
    many = run_unlearning("esc", digits_original.model, retain, fs, {"p": 10}, dataset="digits")
    eff_one = efficacy(one, digits.test, [1, 7])
    eff_many = efficacy(many.model, digits.test, [1, 7])
    # measured 1.000 -> 0.978: one direction, shared by the two classes, leaves them standing
    assert eff_one.forget_acc >= 0.8
    # measured 0.000 at p = 10 (12 directions), retained 0.989 -> 0.811 on one CPU and -> 0.501
    # on an AMD EPYC (the fixture's float bits move the directions; 72362b1 too): erasing 12 of
    # 128 directions takes neighbours down, as ESC at p 5 did on verdict-test7; well above the
    # retained classes' chance (0.125) either way
    assert eff_many.forget_acc <= 0.1
    assert eff_many.retain_acc >= 0.4
    u = erased_directions(models.penultimate(digits_original.model, fs.x), 10)
    assert u.shape == (128, 12)
    assert (many.model.fc.weight.double() @ u).abs().max() < 1e-5


def test_the_authors_count_of_directions():
    # their heads: AllCNN 96 -> 1, ResNet-18 512 -> 7, ViT-B/16 768 -> 11
    assert [erased_count(d, d, 1.5) for d in (96, 512, 768)] == [1, 7, 11]
    assert erased_count(64, 64, 1.5) == 1  # at least one, where int() gives 0
    assert erased_count(768, 5, 1.5) == 5  # no more than the forget data's rank

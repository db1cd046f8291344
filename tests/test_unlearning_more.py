"""SCRUB, SalUn, l1-sparse, Boundary Shrink, SSD, Fisher forgetting, UNSIR, Bad Teacher, EU-k, JiT,
Boundary Expanding and the Newton step, each in its own mechanism (that the paper's and issue 12's
methods forget on real digits and keep the rest is tests/test_unlearning.py's test of every
method; the last eight are tested here)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from unleak.evaluation import efficacy
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


def _run(method, digits, digits_original, forget, **overrides):
    retain, fs = digits.train.split_classes(forget)
    return run_unlearning(
        method, digits_original.model, retain, fs, overrides or None, dataset="digits", seed=1
    ).model


def test_ssd_only_dampens_and_forgets(digits, digits_original):
    model = _run("ssd", digits, digits_original, [3])
    before = dict(digits_original.model.named_parameters())
    for name, p in model.named_parameters():
        assert bool((p.abs() <= before[name].abs() + 1e-7).all()), name  # never grows a weight
    assert efficacy(model, digits.test, [3]).forget_acc <= 0.10
    assert efficacy(model, digits.test, [3]).retain_acc >= 0.9


def test_fisher_zeroes_the_forgotten_rows_of_the_head_and_adds_noise_elsewhere(
    digits, digits_original
):
    from unleak import models

    model = _run("fisher", digits, digits_original, [1, 7])
    head, head0 = models.head(model), models.head(digits_original.model)
    assert head.weight[[1, 7]].abs().max() < 0.2  # mu = 0, std sqrt(1e-3)
    assert not torch.equal(head.weight[0], head0.weight[0])
    eff = efficacy(model, digits.test, [1, 7])
    assert eff.forget_acc <= 0.10
    assert eff.retain_acc >= 0.8  # measured 0.9+: noise costs some of the rest


def test_unsir_forgets_with_noise_it_learned(digits, digits_original):
    from unleak.unlearning.unsir import UNSIRConfig, error_noise

    cfg = UNSIRConfig(noise_samples=32, noise_steps=20)
    gen = torch.Generator().manual_seed(0)
    noise = error_noise(digits_original.model, 3, (1, 8, 8), cfg, gen)
    start = torch.randn((32, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    loss = torch.nn.functional.cross_entropy
    target = torch.full((32,), 3)
    with torch.no_grad():  # the learned noise raises the class's loss above random noise's
        assert loss(digits_original.model(noise), target) > loss(
            digits_original.model(start), target
        )
    eff = efficacy(_run("unsir", digits, digits_original, [3]), digits.test, [3])
    assert eff.forget_acc <= 0.10 and eff.retain_acc >= 0.85


def test_eu_k_retrains_only_the_last_layers_from_scratch(digits, digits_original):
    from unleak.unlearning.eu_k import last_layers

    model = _run("eu-k", digits, digits_original, [3])
    top = {id(m) for m in last_layers(model, 2)}
    before = dict(digits_original.model.named_modules())
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            same = torch.equal(m.weight, before[name].weight)
            assert same == (id(m) not in top), name  # frozen below, re-trained on top
    eff = efficacy(model, digits.test, [3])
    assert eff.forget_acc == 0.0 and eff.retain_acc >= 0.9
    with pytest.raises(Exception, match="give k from 1 to"):
        _run("eu-k", digits, digits_original, [3], k=99)


def test_bad_teacher_pulls_the_forget_set_to_a_random_teacher(digits, digits_original):
    model = _run("bad-teacher", digits, digits_original, [3], lr=1e-3, epochs=5)
    eff = efficacy(model, digits.test, [3])
    before = efficacy(digits_original.model, digits.test, [3]).forget_acc
    assert before >= 0.9 and eff.forget_acc <= 0.25  # measured 0.13
    assert eff.retain_acc >= 0.9  # measured 0.96


def _finite_logits(model, digits):
    with torch.no_grad():
        out = model(digits.test.x[:16])
    return out.shape == (16, digits.num_classes) and bool(torch.isfinite(out).all())


def test_jit_smooths_the_forget_set_away_zero_shot(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    a, b = (
        run_unlearning("jit", digits_original.model, retain, fs, dataset="digits", seed=1).model
        for _ in range(2)
    )
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=0, rtol=0)  # the noise is the seed's
    before = dict(digits_original.model.named_parameters())
    assert any(not torch.equal(p, before[n]) for n, p in a.named_parameters())
    assert _finite_logits(a, digits)
    eff = efficacy(a, digits.test, [3])
    assert eff.forget_acc <= 0.1  # measured 0.0 (the original: 0.98)
    assert eff.retain_acc >= 0.5  # measured 0.83: smoothing costs some of the rest


def test_boundary_expand_trains_into_a_shadow_class_and_drops_it(digits, digits_original):
    from unleak.errors import ConfigError

    model = _run("boundary-expand", digits, digits_original, [3])
    assert model.state_dict().keys() == digits_original.model.state_dict().keys()
    assert _finite_logits(model, digits)
    eff = efficacy(model, digits.test, [3])
    before = efficacy(digits_original.model, digits.test, [3]).forget_acc
    assert before >= 0.9 and eff.forget_acc <= before - 0.3  # measured 0.98 -> 0.39
    assert eff.retain_acc >= 0.9  # measured 0.97
    retain, fs = digits.train.split_classes([3])
    user = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    out = run_unlearning("boundary-expand", user, retain, fs, {"epochs": 1}, seed=1).model
    assert out.state_dict().keys() == user.state_dict().keys() and out[-1].out_features == 10
    headless = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.ReLU())
    with pytest.raises(ConfigError, match=r"boundary-expand needs a final nn\.Linear"):
        run_unlearning("boundary-expand", headless, retain, fs, {"epochs": 1}, seed=1)


def test_newton_moves_only_the_head_and_removes_the_forget_class(digits, digits_original):
    from unleak import models

    model = _run("newton", digits, digits_original, [3])
    head = models.head(model)
    before = dict(digits_original.model.named_parameters())
    for name, p in model.named_parameters():
        on_head = any(p is q for q in head.parameters())
        assert torch.equal(p, before[name]) != on_head, name  # one step on the head only
    assert _finite_logits(model, digits)
    eff = efficacy(model, digits.test, [3])
    assert eff.forget_acc <= 0.1  # measured 0.0 (the original: 0.98)
    # one step at the authors' L2 also hurts kept classes: measured 0.87 (class 1 fell to 0.09)
    # on one CPU and 0.63 (classes 0 and 2 to 0.00) on another: the solve is ill-conditioned
    # enough that a float32 forward's last bits move which kept classes the step takes along
    assert eff.retain_acc >= 0.5

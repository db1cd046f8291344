"""``adv-unlearn`` (Cha et al., AAAI 2024) on real digits: it forgets the class and keeps the rest,
with no retained data."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

import unleak.unlearning.adv_unlearn  # noqa: F401  (registers the method)
from unleak.evaluation import efficacy
from unleak.models.inference import predict_logits
from unleak.unlearning import run_unlearning
from unleak.unlearning.adv_unlearn import AdvUnlearnConfig, adv_unlearn_loss, targeted_l2_pgd


def test_adv_unlearn_forgets_the_class_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    run = run_unlearning("adv-unlearn", digits_original.model, retain, fs, dataset="digits", seed=1)
    before = efficacy(digits_original.model, digits.test, [3])
    eff = efficacy(run.model, digits.test, [3])
    assert before.forget_acc >= 0.9  # measured 0.98
    assert eff.forget_acc <= 0.2  # measured 0.0
    assert eff.retain_acc >= before.retain_acc - 0.05  # measured 0.993 -> 0.993
    assert run.history.stopped.startswith("forget accuracy")  # the authors' stop: measured 36 steps


def test_adv_unlearn_is_the_seeds(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    short = {"epochs": 1, "pgd_steps": 5}
    a, b, c = (
        run_unlearning(
            "adv-unlearn", digits_original.model, retain, fs, short, dataset="digits", seed=s
        ).model
        for s in (1, 1, 2)
    )
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=0, rtol=0)  # attacks and batches are the seed's
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))


def test_adv_unlearn_attack_and_loss(digits, digits_original):
    _, fs = digits.train.split_classes([3])
    model = copy.deepcopy(digits_original.model).eval()
    cfg = AdvUnlearnConfig(reg_lamb=0.0, forget_batch_size=len(fs))
    x = fs.x[:32]
    target = torch.arange(32) % 9
    target = target + (target >= 3)  # every class but the forgotten one
    adv = targeted_l2_pgd(model, x, target, cfg, torch.Generator().manual_seed(0))
    assert float((adv - x).flatten(1).norm(dim=1).max()) <= cfg.pgd_eps + 1e-4  # in the L2 ball
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1  # and in the pixel range
    hits = (predict_logits(model, adv).argmax(1) == target).float().mean()
    assert hits >= 0.9  # the targeted attack lands: measured 1.0 on 320 samples
    loss = adv_unlearn_loss(fs, model, None, cfg, torch.Generator().manual_seed(0))
    value, logits = loss(model, adv, target)
    with torch.no_grad():
        na, nf = len(adv), len(fs)
        asc = F.cross_entropy(model(fs.x), fs.y)  # one full forget batch, any order
        expected = (na * F.cross_entropy(model(adv), target) - nf * asc) / (na + nf)
    torch.testing.assert_close(value.detach(), expected)
    assert logits.shape == (32, digits.num_classes)  # fit's accuracy is the adversarial batch's

"""NPO (``npo``) on digits: it forgets the class and keeps the rest; its loss is the paper's."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import unleak.unlearning.npo  # noqa: F401  (registers the method)
from unleak.evaluation import efficacy
from unleak.unlearning import run_unlearning
from unleak.unlearning.npo import npo_forget_loss


def test_npo_forgets_the_class_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    model = run_unlearning("npo", digits_original.model, retain, fs, dataset="digits", seed=1).model
    before = efficacy(digits_original.model, digits.test, [3])
    eff = efficacy(model, digits.test, [3])
    assert before.forget_acc >= 0.9  # measured 0.978
    assert eff.forget_acc <= 0.15  # measured 0.0
    assert eff.retain_acc >= before.retain_acc - 0.03  # measured 0.993 -> 0.995


def test_npo_loss_is_the_formula_and_a_bounded_ascent():
    torch.manual_seed(0)
    beta = 0.1
    ref = torch.randn(5, 4)
    y = torch.tensor([0, 1, 2, 3, 0])
    # at theta = ref every ratio is 1: (2/beta) log 2, whatever the batch
    at_ref = npo_forget_loss(ref.clone(), ref, y, beta)
    torch.testing.assert_close(at_ref, torch.tensor(2 / beta * math.log(2)))

    logits = (ref + torch.randn(5, 4)).requires_grad_(True)
    value = npo_forget_loss(logits, ref, y, beta)
    p = F.softmax(logits, 1).gather(1, y[:, None]).squeeze(1)
    p_ref = F.softmax(ref, 1).gather(1, y[:, None]).squeeze(1)
    expected = (2 / beta * torch.log1p((p / p_ref) ** beta)).mean()
    torch.testing.assert_close(value, expected)

    # its gradient is gradient ascent on the cross-entropy, each sample weighted by
    # 2 pi^beta / (pi^beta + pi_ref^beta): 1 at theta = ref, below 2, towards 0 once forgotten
    (grad,) = torch.autograd.grad(value, logits)
    weight = (2 * p**beta / (p**beta + p_ref**beta)).detach()
    ascent = -(weight * F.cross_entropy(logits, y, reduction="none")).mean()
    (expected_grad,) = torch.autograd.grad(ascent, logits)
    torch.testing.assert_close(grad, expected_grad)
    assert bool(((weight > 0) & (weight < 2)).all())

    start = ref.clone().requires_grad_(True)
    (grad0,) = torch.autograd.grad(npo_forget_loss(start, ref, y, beta), start)
    (ga,) = torch.autograd.grad(-F.cross_entropy(start, y), start)
    torch.testing.assert_close(grad0, ga)  # weight 1: the first step is plain ascent


def test_npo_without_the_retain_term_costs_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    with_rt, plain = (
        run_unlearning(
            "npo",
            digits_original.model,
            retain,
            fs,
            {"retain_weight": w},
            dataset="digits",
            seed=1,
        ).model
        for w in (1.0, 0.0)
    )
    kept, lost = (efficacy(m, digits.test, [3]) for m in (with_rt, plain))
    assert lost.forget_acc <= 0.15  # measured 0.0: plain NPO forgets as well
    assert lost.retain_acc <= kept.retain_acc - 0.1  # measured 0.64 against 0.995 (NPO+RT)

"""LoTUS (``lotus``) on digits: the forget data's answers are smoothed while the student still
gives them away, the retained answers stay, and the targets are the authors' (a one-hot of the
teacher on retained rows, the teacher at ``exp(alpha * acc)`` on forgotten ones)."""

from __future__ import annotations

import copy
import math

import torch

import unleak.unlearning.lotus  # noqa: F401  (registers the method)
from unleak.evaluation import efficacy
from unleak.models.inference import accuracy, predict_logits
from unleak.training import TrainConfig, TrainState
from unleak.unlearning import run_unlearning
from unleak.unlearning.lotus import ForgetTemperature, lotus_targets


def test_lotus_forgets_the_class_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    before = efficacy(digits_original.model, digits.test, [3])
    run = run_unlearning("lotus", digits_original.model, retain, fs, dataset="digits", seed=1)
    eff = efficacy(run.model, digits.test, [3])
    assert before.forget_acc >= 0.9  # measured 0.978
    assert eff.forget_acc <= 0.2  # measured 0.043
    assert eff.retain_acc >= before.retain_acc - 0.02  # measured 0.993 -> 0.993
    # a forgotten image is answered without the original's confidence (it gave about 1.00)
    p = predict_logits(run.model, digits.test.x).softmax(1)[digits.test.y == 3]
    assert float(p.max(1).values.mean()) <= 0.6  # measured 0.40
    assert run.history.stopped == "completed" and len(run.history.epochs) == 10


def test_the_temperature_follows_the_forget_accuracy(digits, digits_original):
    """tau = exp(alpha * acc) at an epoch's start, acc read in eval mode and fit's modes given
    back; a smaller alpha smooths less, so forgets less."""
    retain, fs = digits.train.split_classes([1, 7])
    model = copy.deepcopy(digits_original.model).train()
    temperature = ForgetTemperature(fs, 2.0)
    temperature.on_epoch_begin(TrainState(model, TrainConfig(), 1, 1))
    assert model.training
    assert temperature.tau == math.exp(2.0 * accuracy(model, fs.x, fs.y))
    assert temperature.tau > math.exp(1.8)  # the original answers its forget data
    fast, slow = (
        run_unlearning(
            "lotus",
            digits_original.model,
            retain,
            fs,
            {"epochs": 4, "alpha": alpha},
            dataset="digits",
            seed=1,
        )
        for alpha in (32.0, 2.0)
    )
    forget = [efficacy(r.model, digits.test, [1, 7]).forget_acc for r in (fast, slow)]
    assert forget[0] < forget[1]  # measured at 10 epochs: 0.209 at 32, 0.813 at 2


def test_lotus_targets_are_one_hot_on_retained_rows_and_smoothed_on_forgotten_ones():
    logits = torch.tensor([[8.0, 0.0, 0.0], [0.0, 8.0, 0.0], [0.0, 0.0, 8.0]])
    forgotten = torch.tensor([False, True, True])
    t = lotus_targets(logits, forgotten, math.exp(32), "softmax")
    assert torch.equal(t[0], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(t[1:], torch.full((2, 3), 1 / 3))  # tau e^32: uniform
    t1 = lotus_targets(logits, forgotten, 1.0, "softmax")
    torch.testing.assert_close(t1[1], logits[1].softmax(0))  # tau 1: the teacher's answer
    torch.manual_seed(0)
    g = lotus_targets(logits, forgotten, math.exp(32), "gumbel-softmax")
    assert torch.all(g.sum(1).sub(1).abs() < 1e-5)
    assert set(g[0].tolist()) == {0.0, 1.0}  # a Gumbel-max draw: one-hot
    assert float((g[1:] - 1 / 3).abs().max()) < 1e-6  # Gumbel noise / e^32: uniform

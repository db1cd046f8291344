"""MUNBa (``munba``) on digits: each joint step descends the Nash bargaining of the retained and
forget losses, the forget data is passed once an epoch beside the first retained batches, and
the weights are the authors' closed form."""

from __future__ import annotations

import copy

import torch

import unleak.unlearning.munba  # noqa: F401  (registers the method)
from unleak.evaluation import efficacy
from unleak.training import Callback, TrainState, fit
from unleak.unlearning import run_unlearning
from unleak.unlearning.munba import ForgetPass, MUNBaConfig, bargaining_weights, munba_loss


def test_munba_ascent_forgets_the_classes_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([1, 7])
    before = efficacy(digits_original.model, digits.test, [1, 7])
    run = run_unlearning(
        "munba",
        digits_original.model,
        retain,
        fs,
        {"forget_loss": "ascent"},
        dataset="digits",
        seed=1,
    )
    eff = efficacy(run.model, digits.test, [1, 7])
    assert before.forget_acc >= 0.9  # measured 0.989
    assert eff.forget_acc <= 0.2  # measured 0.000
    assert eff.retain_acc >= before.retain_acc - 0.02  # measured 0.992 -> 0.997
    assert run.history.stopped == "completed" and len(run.history.epochs) == 10


def test_the_forget_data_is_passed_once_an_epoch(digits, digits_original):
    """With the authors' batches of 256, digits' ~290 images of classes 1 and 7 are two forget
    batches an epoch: two joint steps (clipped), then retained-only ones."""
    retain, fs = digits.train.split_classes([1, 7])
    joint: list[bool] = []

    class Watch(Callback):
        def on_batch_end(self, state: TrainState) -> None:
            joint.append(passes.joint)

    cfg = MUNBaConfig(epochs=2)
    passes = ForgetPass(fs, cfg, torch.Generator().manual_seed(2))
    loss = munba_loss(passes, cfg, retain.num_classes)
    fit(copy.deepcopy(digits_original.model), retain, cfg, loss=loss, callbacks=[passes, Watch()])
    per_epoch = len(joint) // 2
    expected = -(-len(fs) // 256)
    assert joint[:per_epoch].count(True) == expected == 2
    assert joint[:expected] == [True] * expected  # the first batches of the epoch
    assert joint[per_epoch : per_epoch + expected] == [True] * expected


def test_the_bargaining_weights_solve_the_nash_condition():
    """G^T G a = 1 / a with a > 0 (the two-player bargaining solution), for gradients that agree
    in part and for conflicting ones; only a degenerate pair (no sqrt) fails the bargain."""
    torch.manual_seed(0)
    g_r = torch.randn(50, dtype=torch.float64)
    for c in (0.5, -1.0):
        g_f = c * g_r + torch.randn(50, dtype=torch.float64)
        w = bargaining_weights(g_r, g_f)
        assert w is not None and min(w) > 0
        a = torch.tensor(w, dtype=torch.float64)
        gram = torch.stack([g_r, g_f]) @ torch.stack([g_r, g_f]).T
        torch.testing.assert_close(gram @ a, 1 / a, rtol=1e-6, atol=1e-9)
    e = torch.tensor([1.0, 0.0], dtype=torch.float64)
    assert bargaining_weights(e, torch.tensor([1.0, 1e-9], dtype=torch.float64)) is None

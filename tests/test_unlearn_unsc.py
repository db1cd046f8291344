"""UNSC (``unsc``) on digits: it forgets the class while the retained classes' answers stay put,
its pseudo-label is the original's top retained class, and its gradient step leaves the retained
inputs' layer outputs unchanged."""

from __future__ import annotations

import torch
from torch import nn

import unleak.unlearning.unsc  # noqa: F401  (registers the method)
from unleak.data.core import Split
from unleak.evaluation import efficacy
from unleak.models.inference import predict_logits
from unleak.training import TrainConfig, TrainState
from unleak.unlearning import UnlearnContext, run_unlearning
from unleak.unlearning.pgu import GradientProjection
from unleak.unlearning.unsc import grow_basis, pseudo_labels


def test_unsc_forgets_the_class_and_keeps_the_rest(digits, digits_original):
    retain, fs = digits.train.split_classes([3])
    before = efficacy(digits_original.model, digits.test, [3])
    run = run_unlearning("unsc", digits_original.model, retain, fs, dataset="digits", seed=1)
    eff = efficacy(run.model, digits.test, [3])
    assert before.forget_acc >= 0.9  # measured 0.978
    assert eff.forget_acc <= 0.1  # measured 0.000
    assert eff.retain_acc >= before.retain_acc - 0.01  # measured 0.993 -> 0.993
    kept = digits.test.y != 3
    old = predict_logits(digits_original.model, digits.test.x[kept]).argmax(1)
    new = predict_logits(run.model, digits.test.x[kept]).argmax(1)
    assert float((old == new).float().mean()) >= 0.99  # measured 1.000 (logits move 5.5%)


def test_pseudo_labels_are_the_original_top_retained_class():
    logits = torch.tensor([[5.0, 1.0, 3.0, 2.0], [0.0, 4.0, 1.0, 9.0], [1.0, 0.0, 2.0, 3.0]])
    model = nn.Flatten()  # images of 1 x 1 x 4 pixels whose logits are the pixels
    forget = Split(logits[:, None, None, :], torch.tensor([0, 3, 3]), 4)
    ctx = UnlearnContext(forget_classes=(0, 3), num_classes=4)
    # the authors' rule: the argmax once the forget classes are masked out
    assert pseudo_labels(model, forget, ctx).tolist() == [2, 1, 2]


def test_grow_basis_follows_gpm_and_the_step_keeps_retained_outputs():
    gen = torch.Generator().manual_seed(0)

    def near(rank: int) -> torch.Tensor:  # inputs near a random subspace of R^8, a little noise
        a = torch.randn(200, rank, generator=gen, dtype=torch.float64)
        a = a @ torch.randn(rank, 8, generator=gen, dtype=torch.float64)
        return a + 0.01 * torch.randn(200, 8, generator=gen, dtype=torch.float64)

    a = near(3)
    u = grow_basis(None, a, 0.97)
    torch.testing.assert_close(u.T @ u, torch.eye(u.shape[1], dtype=u.dtype))
    share = torch.linalg.svdvals(a) ** 2 / (a**2).sum()
    # the first class keeps the authors' count: the directions before the share reaches 0.97
    assert u.shape[1] == int((torch.cumsum(share, 0) < 0.97).sum())  # measured 2 of 3
    # a later class adds residual directions until the basis holds 0.97 of its energy
    b = near(2)
    u2 = grow_basis(u, b, 0.97)
    assert u2.shape[1] > u.shape[1]  # measured 4
    torch.testing.assert_close(u2.T @ u2, torch.eye(u2.shape[1], dtype=u.dtype))
    assert float(((b @ u2) ** 2).sum() / (b**2).sum()) >= 0.97
    # a projected step leaves the layer's outputs on inputs in the guarded span where they were
    layer = nn.Linear(8, 4, bias=False).double()
    guard = GradientProjection({layer: u2}, decay=1.0)  # unsc's step: pgu's projection
    x = torch.randn(50, u2.shape[1], generator=gen, dtype=torch.float64) @ u2.T
    out0 = layer(x).detach()
    layer(torch.randn(16, 8, generator=gen, dtype=torch.float64)).pow(2).sum().backward()
    g0 = layer.weight.grad.clone()
    guard.on_after_backward(TrainState(layer, TrainConfig(), 1, 1))
    assert float(layer.weight.grad.norm()) >= 0.1 * float(g0.norm())  # a step is left to take
    with torch.no_grad():
        layer.weight -= 0.5 * layer.weight.grad
        torch.testing.assert_close(layer(x), out0)

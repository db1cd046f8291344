"""``newton``: one Newton (influence) removal step on the classifier head (Guo et al., "Certified
Data Removal from Machine Learning Models", ICML 2020; Koh & Liang, "Understanding Black-box
Predictions via Influence Functions", ICML 2017). No training.

Everything but the final ``nn.Linear`` is frozen; the head is a softmax regression on the
network's features. With the L2-regularised objective ``L(theta; D) = sum_i l(theta; x_i, y_i)
+ l2 * n / 2 * ||theta||^2`` (weights and bias alike, as the authors' ``loss_with_reg``), the
step that removes the forget samples from the sum is ``theta <- theta + H^-1 g``: ``g`` the
summed gradient of the forget samples' loss plus their share of the regulariser (``l2 * n_f *
theta``, the authors' ``lr_grad``), ``H`` the Hessian of the retained data's objective (``sum
over retained of the loss Hessian + l2 * n_r * I``). ``H`` is exact, by the closed form of
softmax cross-entropy on fixed features (``(diag(p) - p p^T)`` Kronecker ``a a^T``, ``a`` the
features with a 1 for the bias), estimated on ``retain_samples`` retained samples drawn with the
seed and scaled to the retained count. ``scale`` multiplies the step (1: the paper's).

Guo et al. remove points one at a time from a one-vs-all logistic model on L2-normalised
features; here the forget set is removed in one step from the softmax head on the network's
own features. Their code (github facebookresearch/certified-removal, ``test_removal.py``)
defaults ``--lam`` to 1e-6 and its README's SVHN run, the authors' one documented experiment,
uses 2e-4: ``l2`` defaults to that run's 2e-4 (the code default, on a deep net's head, lets the
solve blow the step up along the flat directions of confident samples). The step is steep in
``l2``: on the digits cnn (seed 0, class 3; no population's model) 1e-6 wrecks the head
(retained test accuracy 0.04), 2e-4 forgets the class and keeps 0.97 of the rest, 1e-3 leaves
0.11 of the class and 0.99 of the rest, 1e-2 forgets nothing. One step is the method: where it
leaves the forget classes standing, that is its result.

unleak implemented this method for the verdict's third test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import time

import torch
from pydantic import Field
from torch import nn

from unleak import models
from unleak.data.core import Split
from unleak.training import History, TrainRun
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method
from unleak.unlearning.boundary_expand import final_linear


class NewtonConfig(UnlearnConfig):
    l2: float = Field(
        2e-4,
        gt=0,
        le=100,
        description="L2 strength lambda of the head's objective (authors' run: 2e-4)",
    )
    scale: float = Field(1.0, gt=0, le=1000, description="multiplier on the Newton step (paper: 1)")
    retain_samples: int = Field(
        2000, ge=1, le=1 << 24, description="retained samples for the Hessian"
    )


def head_inputs(model: nn.Module, fc: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """The inputs of ``fc`` for images ``x`` (eval mode), in float64, with a column of ones for
    the bias."""
    a = models.penultimate(model, x, fc=fc).double()
    if fc.bias is not None:
        a = torch.cat([a, torch.ones(len(a), 1, dtype=a.dtype, device=a.device)], 1)
    return a


def softmax_hessian(a: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """The mean over samples of the cross-entropy Hessian w.r.t. ``theta`` (K x D, row-major
    flattened): ``(diag(p) - p p^T) kron (a a^T)``, exact for a linear head on fixed features."""
    n, d = a.shape
    k = theta.shape[0]
    p = (a @ theta.T).softmax(1)
    curv = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # n x K x K
    hess = a.new_zeros(k * d, k * d)
    for c in range(k):  # one block row at a time: n x K x D in memory, never n x K x K x D
        rows = (curv[:, c, :, None] * a[:, None, :]).reshape(n, k * d)
        hess[c * d : (c + 1) * d] = a.T @ rows
    return hess / max(n, 1)


@builtin_method("newton", NewtonConfig, "one Newton step on the head removing the forget data")
def newton(
    model: nn.Module, retain: Split, forget: Split, config: NewtonConfig, ctx: UnlearnContext
) -> TrainRun:
    start = time.perf_counter()
    model.to(config.device)
    fc = final_linear(model, forget.input_shape, "newton")
    gen = torch.Generator().manual_seed(config.seed)
    idx = torch.randperm(len(retain), generator=gen)[: config.retain_samples]
    a_r = head_inputs(model, fc, retain.x[idx])
    a_f = head_inputs(model, fc, forget.x)
    w = fc.weight.detach().double()
    theta = torch.cat([w, fc.bias.detach().double()[:, None]], 1) if fc.bias is not None else w
    n_r, n_f = len(retain), len(forget)
    # the forget samples' summed gradient, plus their share of the regulariser
    p_f = (a_f @ theta.T).softmax(1)
    onehot = nn.functional.one_hot(forget.y.to(a_f.device), theta.shape[0]).double()
    g = (p_f - onehot).T @ a_f + config.l2 * n_f * theta
    # the retained objective's Hessian (a sum over n_r samples): n_r x (mean Hessian + l2 I)
    hess = softmax_hessian(a_r, theta)
    hess += config.l2 * torch.eye(len(hess), dtype=hess.dtype, device=hess.device)
    step = torch.linalg.solve(n_r * hess, g.flatten()).view_as(theta)
    theta = theta + config.scale * step
    with torch.no_grad():
        fc.weight.copy_(theta[:, : fc.in_features].to(fc.weight.dtype))
        if fc.bias is not None:
            fc.bias.copy_(theta[:, -1].to(fc.bias.dtype))
    return TrainRun(model, History(seconds=time.perf_counter() - start, stopped="no training"))

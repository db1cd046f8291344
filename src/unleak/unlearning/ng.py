"""``ng``: negative gradient, i.e. gradient ascent on the forget data.

Ascent has no floor: the loss grows without bound and the retained classes collapse with it. Three
guards keep it an unlearning method rather than a wrecking ball: gradient clipping, an early stop
once the forget data's accuracy falls to ``stop_at`` (chance, 1/K, unless set), and a divergence
guard that rolls back to the last checked weights when the loss runs past ``max_loss``.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.models.inference import accuracy
from unleak.training import Callback, LossFn, TrainRun, TrainState, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method


class NGConfig(UnlearnConfig):
    stop_at: float | None = Field(
        None,
        ge=0,
        le=1,
        description="stop when the forget data's accuracy is at most this (default 1/K)",
    )
    early_stop: bool = Field(
        True, description="stop as soon as the forget accuracy reaches stop_at"
    )
    check_every: int = Field(5, ge=1, description="steps between accuracy checks")
    check_samples: int = Field(2000, ge=1, description="forget samples used for each check")
    max_loss: float = Field(
        30.0, gt=0, description="cross-entropy at which ascent counts as diverged"
    )
    ascent_on: Literal["all", "correct"] = Field(
        "all", description="ascend on every forget sample, or only on those still classified right"
    )
    retain_weight: float = Field(
        0.0,
        ge=0,
        description="weight of a descent term on a retained batch (NegGrad+); 0 = pure ascent",
    )
    temperature: float = Field(
        1.0,
        gt=0,
        le=100,
        description="ascend on the cross-entropy of logits / T: at T = 1 (plain ng) a class the "
        "model is sure of gives no gradient (its softmax saturates); T > 1 keeps one",
    )
    freeze_norm: bool = True  # forget-only batches would drag batch-norm statistics off the data
    grad_clip: float | None = Field(5.0, gt=0)


class ForgetGuard(Callback):
    """Stops ascent at the target forget accuracy; rolls back on divergence."""

    def __init__(self, probe: Split, stop_at: float | None, every: int, max_loss: float) -> None:
        self.probe, self.stop_at, self.every, self.max_loss = probe, stop_at, every, max_loss
        self.good: dict[str, torch.Tensor] | None = None
        self.last_acc = float("nan")

    def _check(self, state: TrainState) -> None:
        self.last_acc = accuracy(state.model, self.probe.x, self.probe.y)
        self.good = copy.deepcopy(state.model.state_dict())
        if self.stop_at is not None and self.last_acc <= self.stop_at:
            state.stop, state.stop_reason = (
                True,
                f"forget accuracy {self.last_acc:.3f} <= {self.stop_at:.3f}",
            )

    def on_train_begin(self, state: TrainState) -> None:
        self._check(state)

    def on_batch_end(self, state: TrainState) -> None:
        params_ok = all(torch.isfinite(p).all() for p in state.model.parameters())
        if -state.loss > self.max_loss or not params_ok:  # state.loss includes any retain term
            if self.good is not None:
                state.model.load_state_dict(self.good)
            state.stop, state.stop_reason = True, f"diverged (loss {-state.loss:.1f}); rolled back"
        elif state.step % self.every == 0:
            self._check(state)

    def on_train_end(self, state: TrainState) -> None:
        if not state.stop:
            self._check(state)


def ascent_loss(
    retain: Split,
    weight: float,
    batch_size: int,
    gen: torch.Generator,
    only_correct: bool,
    temperature: float = 1.0,
) -> LossFn:
    """``-CE`` on the forget batch, plus ``weight * CE`` on a random retained batch if weight > 0.

    With ``only_correct`` the ascent stops pushing a sample once it is misclassified, which bounds
    how far the forget data is driven (and with it the damage to the retained classes).
    """

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        ce = F.cross_entropy(logits / temperature, y, reduction="none")
        if only_correct:
            ce = ce * (logits.detach().argmax(1) == y)
        value = -ce.mean()
        if weight > 0 and len(retain):
            idx = torch.randint(0, len(retain), (batch_size,), generator=gen)
            xr, yr = retain.x[idx].to(x.device), retain.y[idx].to(x.device)
            value = value + weight * F.cross_entropy(model(xr), yr)
        return value, logits

    return loss


@builtin_method("ng", NGConfig, "gradient ascent on the forget data, with clipping and early stop")
def negative_gradient(
    model: nn.Module, retain: Split, forget: Split, config: NGConfig, ctx: UnlearnContext
) -> TrainRun:
    stop_at = config.stop_at if config.stop_at is not None else 1.0 / ctx.num_classes
    gen = torch.Generator().manual_seed(config.seed + 2)
    probe = forget.take(torch.randperm(len(forget), generator=gen)[: config.check_samples])
    guard = ForgetGuard(
        probe, stop_at if config.early_stop else None, config.check_every, config.max_loss
    )
    loss = ascent_loss(
        retain,
        config.retain_weight,
        config.batch_size,
        gen,
        config.ascent_on == "correct",
        config.temperature,
    )
    return fit(model, forget, config, loss=loss, callbacks=[guard, *ctx.callbacks])

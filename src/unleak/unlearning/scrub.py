"""``scrub``: SCalable Remembering and Unlearning unBound (Kurmanji et al., NeurIPS 2023).

A teacher (a frozen copy of the original) and a student (the model) play a min-max game. For the
first ``msteps`` epochs a *max-step* pass over the forget data pushes the student's softened
predictions away from the teacher's (it ascends ``KL(teacher || student)`` at temperature
``kd_temperature``); every epoch a *min-step* pass over the retained data keeps the student close
to the teacher there and accurate (it descends ``alpha * KL + gamma * CE``).

Each pass is one call of :func:`unleak.training.fit` on its split, with a seed drawn from
``config.seed`` for that epoch and pass. The learning rate of epoch ``e`` follows the configured
schedule across epochs (``cosine``: ``lr * (1 + cos(pi * e / epochs)) / 2``), constant within it.
Unlike the authors' single optimiser, each pass starts with fresh momentum; callbacks see each
pass as a run of its own. ``grad_clip`` bounds the ascent, which otherwise has no floor.

Defaults: the authors' CIFAR-10 class-forgetting run, github meghdadk/SCRUB,
``large_scale_unlearning.ipynb``, cell "SCRUB Forgetting" (``gamma=0.99, alpha=0.001, kd_T=4,
msteps=2, sgda_epochs=3, sgda_learning_rate=0.0005, momentum 0.9, weight_decay 5e-4``; the lr
decays at epochs [3, 5, 9], i.e. never within 3 epochs) and cell "Data Loader" (forget batches of
512, retained batches of 256). The loss terms follow ``thirdparty/repdistiller/helper/loops.py``
(``train_distill``) and ``helper/KD.py`` (``DistillKL``: ``KL * T**2``, mean over the batch).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.training import History, LossFn, TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method, frozen_copy


class SCRUBConfig(UnlearnConfig):
    epochs: float = Field(3, ge=0, le=10_000, description="epochs of min-steps (authors: 3)")
    batch_size: int = Field(256, ge=1, le=1 << 16, description="retained batch size (authors)")
    lr: float = Field(0.0005, gt=0, le=100, description="learning rate (authors: 5e-4)")
    schedule: Literal["constant", "cosine"] = "constant"
    kd_temperature: float = Field(4.0, gt=0, description="softmax temperature of the KL terms")
    alpha: float = Field(0.001, ge=0, description="weight of KL(teacher || student) in min-steps")
    gamma: float = Field(0.99, ge=0, description="weight of cross-entropy in min-steps")
    msteps: int = Field(2, ge=0, description="epochs that begin with a max-step forget pass")
    forget_batch_size: int = Field(512, ge=1, description="batch size of the max-step passes")


def distill_kl(student: torch.Tensor, teacher: torch.Tensor, t: float) -> torch.Tensor:
    """``KL(softmax(teacher/t) || softmax(student/t)) * t**2``, averaged over the batch."""
    s, p = F.log_softmax(student / t, dim=1), F.log_softmax(teacher / t, dim=1)
    return F.kl_div(s, p, log_target=True, reduction="batchmean") * t * t


def scrub_loss(teacher: nn.Module, config: SCRUBConfig, maximise: bool) -> LossFn:
    """The max-step loss ``-KL`` or the min-step loss ``alpha * KL + gamma * CE``."""

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        with torch.no_grad():
            target = teacher(x)
        kl = distill_kl(logits, target, config.kd_temperature)
        if maximise:
            return -kl, logits
        return config.gamma * F.cross_entropy(logits, y) + config.alpha * kl, logits

    return loss


def _merge(into: History, run: TrainRun, epoch: int) -> bool:
    """Fold one pass's history into ``into``; False when a callback stopped the pass."""
    for stats in run.history.epochs:
        stats.epoch = epoch
        into.epochs.append(stats)
    into.seconds += run.history.seconds
    into.steps += run.history.steps
    if run.history.stopped != "completed":
        into.stopped = run.history.stopped
        return False
    return True


@builtin_method(
    "scrub",
    SCRUBConfig,
    "teacher-student min-max: diverge on forget, keep retained",
    null_ok=True,
)
def scrub(
    model: nn.Module, retain: Split, forget: Split, config: SCRUBConfig, ctx: UnlearnContext
) -> TrainRun:
    teacher = frozen_copy(model, config.device)
    n_epochs = math.ceil(config.epochs)
    gen = torch.Generator().manual_seed(config.seed)
    seeds = torch.randint(0, 2**31 - 1, (max(n_epochs, 1), 2), generator=gen).tolist()
    history = History()
    for e in range(n_epochs):
        scale = 1.0
        if config.schedule == "cosine":
            scale = 0.5 * (1 + math.cos(math.pi * e / config.epochs))
        step = {"lr": config.lr * scale, "schedule": "constant"}
        passes: list[tuple[Split, dict[str, float], bool]] = []
        if e < config.msteps and len(forget):  # nothing to forget: min-steps only (a null model)
            passes.append((forget, {"epochs": 1, "batch_size": config.forget_batch_size}, True))
        passes.append((retain, {"epochs": min(1.0, config.epochs - e)}, False))
        for data, settings, maximise in passes:
            seed = seeds[e][0 if maximise else 1]
            cfg = config.model_copy(update={**step, **settings, "seed": seed})
            run = fit(
                model, data, cfg, loss=scrub_loss(teacher, cfg, maximise), callbacks=ctx.callbacks
            )
            if not _merge(history, run, e):
                return TrainRun(model, history)
    return TrainRun(model, history)

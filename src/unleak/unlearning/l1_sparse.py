"""``l1-sparse``: sparsity-aware unlearning (Jia et al., "Model Sparsity Can Simplify Machine
Unlearning", NeurIPS 2023).

Fine-tune on the retained data with an l1 penalty on every parameter,
``CE + alpha_t * sum(|theta|)``, whose weight decays linearly over the unlearning epochs: in epoch
``e`` it is ``alpha * (1 - e / (epochs - no_l1_epochs))``, and 0 in the last ``no_l1_epochs``. The
loss counts its own calls to know the epoch. The penalty pulls weights the retained data does not
need (those that served the forgotten classes) towards zero.

Defaults, from github OPTML-Group/Unlearn-Sparse: ``run.py`` at commit a5dd98c, the authors'
command table (``"FT_prune": "--alpha 0.0001 --unlearn_epochs 10 --unlearn_lr 0.01"``; README,
section l1-sparse: ``--unlearn FT_prune --unlearn_lr 0.01 --unlearn_epochs 10``);
``unlearn/FT.py`` (``FT_iter``: the penalty ``alpha * ||theta||_1`` over all parameters and its
linear per-epoch decay); ``arg_parser.py`` (``batch_size 256, momentum 0.9, weight_decay 5e-4,
--no-l1-epochs 0``, ``decreasing_lr 91,136``: a constant rate over 10 epochs).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.training import LossFn, TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method


class L1SparseConfig(UnlearnConfig):
    epochs: float = Field(10, ge=0, le=10_000, description="passes over the data (authors: 10)")
    batch_size: int = Field(256, ge=1, le=1 << 16, description="batch size (authors: 256)")
    lr: float = Field(0.01, gt=0, le=100, description="learning rate (authors: 0.01)")
    schedule: Literal["constant", "cosine"] = "constant"
    alpha: float = Field(
        1e-4, ge=0, description="initial weight of the l1 penalty; decays linearly to 0"
    )
    no_l1_epochs: int = Field(0, ge=0, description="final epochs without the penalty")


def l1_loss(config: L1SparseConfig, steps_per_epoch: int) -> LossFn:
    """Cross-entropy plus the decaying l1 penalty; the epoch comes from a call counter."""
    decay_epochs = config.epochs - config.no_l1_epochs
    calls = 0

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        nonlocal calls
        epoch = calls // steps_per_epoch
        calls += 1
        logits = model(x)
        value = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
        if decay_epochs > 0:
            weight = config.alpha * max(0.0, 1 - epoch / decay_epochs)
        else:  # no_l1_epochs == epochs: a constant penalty, as in the authors' code
            weight = config.alpha if decay_epochs == 0 else 0.0
        if weight > 0:
            value = value + weight * sum(p.abs().sum() for p in model.parameters())
        return value, logits

    return loss


@builtin_method(
    "l1-sparse",
    L1SparseConfig,
    "fine-tune on retained data with a decaying l1 penalty",
    null_ok=True,
)
def l1_sparse(
    model: nn.Module, retain: Split, forget: Split, config: L1SparseConfig, ctx: UnlearnContext
) -> TrainRun:
    n, b = len(retain), config.batch_size
    steps_per_epoch = max(1, n // b + (n % b > 1))  # as fit batches one epoch
    loss = l1_loss(config, steps_per_epoch)
    return fit(model, retain, config, loss=loss, callbacks=ctx.callbacks)

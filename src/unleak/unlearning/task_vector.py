"""``task-vector``: forgetting by task-vector negation (Ilharco et al., "Editing Models with Task
Arithmetic", ICLR 2023).

1. Fine-tune a copy of the original ``theta_0`` on the forget data alone (cross-entropy on their
   own labels), to ``theta_ft``. The task vector is ``tau = theta_ft - theta_0``.
2. The unlearned model is ``theta_0 - lambda * tau``: the original moved against the direction
   that made it better at the forget set.
3. ``lambda`` is chosen on a grid (``scale=None``): the one with the lowest accuracy on the
   forget data among those that keep at least ``control_keep`` of the original's accuracy on a
   held-out slice of the retained data (the control task); ties go to the smaller ``lambda``.
   ``lambda = 0`` (the original) always qualifies, so where no step forgets within the budget
   the original comes back unchanged: that is the method's result. A number for ``scale`` fixes
   ``lambda`` instead.

The vector covers the parameters only. Batch-norm statistics are not part of it: with
``freeze_norm`` (the default) the single-class batches never move them, and they are put back
to the original's after fine-tuning in any case (a negated running variance can turn negative).

Fine-tuning defaults from github mlfoundations/task_vectors (``src/finetune.py``, its
``__main__``, and ``src/args.py``): ``lr`` 1e-5, batches of 128, a cosine schedule, the gradient
norm clipped to 1.0, the classification head frozen (``model.freeze_head()``: the vector lives in
the encoder), and about 2000 iterations: ``finetune.py`` gives each data set its own epochs
(MNIST 5 of 55,000 training images, 2,150 steps; Cars 35 of 7,330, 2,030), so ``steps`` counts
iterations and ``epochs`` is derived from it. The authors use AdamW with weight decay 0.1
(``args.py``) and a 500-step linear warm-up (``args.py``, ``src/utils.py: cosine_lr``); unleak's
loop has neither, so this runs Adam without decay (AdamW's decoupled decay at lr 1e-5 shrinks a
weight by 1e-6 a step, 0.2% over the run; Adam's coupled L2 of 0.1 would be another regulariser)
and no warm-up.

Scale selection: the authors' repository ships no selection code (its README negates with
``scaling_coef=0.5``). The paper picks ``lambda`` on held-out validation data as the one that
lowers the target task's accuracy most while the control task (ImageNet) keeps at least 95% of
the pre-trained model's accuracy; github gortizji/tangent_task_arithmetic, built on the
authors' code, implements that protocol (``src/eval.py``, ``evaluate_task_vector``:
``np.linspace(0.0, 1.0, n_eval_points)``, 21 points by ``src/args.py``; ``src/utils.py``,
``find_optimal_coef``: the lowest target accuracy whose control accuracy clears the threshold,
ties to the first; ``src/eval_task_negation.py``). The authors' validation split is 10% of the
training set, at most 5000 samples, drawn with a fixed seed (``src/datasets/registry.py``,
``get_dataset``). A method here is given only the retained and the forget data, no test data,
so the control slice is drawn the same way from the *retained* split with the run's seed (held
out from the method, which never trains on it; the original did), and the forget accuracy is
read on the forget data themselves, the data the method is asked to forget.

On the digits cnn (seed 0; no population's model) these defaults barely forget: the 2000 steps
at lr 1e-5 move the weights little (``||tau||`` 0.24), the control never binds, and ``lambda``
ends at or near the grid's top, 1: forget-class test accuracy 0.98 to 0.93 for class 3, 0.98 to
0.92 for classes 3 and 5, 0.99 to 0.94 for 3, 5 and 8, retained accuracy 0.99 or more. The same
vector forgets class 3 at ``lambda`` 4 (retained 0.98), outside the paper's grid; 20 steps at lr
5e-4 forget it within the grid (``lambda`` 0.8: forget 0.0, retained 0.97). The defaults stay
the authors': where they leave the forget classes standing, that is the method's result.

unleak implemented this method for the verdict's fourth test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

import logging
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.models.inference import accuracy
from unleak.training import TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method
from unleak.unlearning.boundary_expand import final_linear

log = logging.getLogger(__name__)


class TaskVectorConfig(UnlearnConfig):
    steps: int | None = Field(
        2000,
        ge=1,
        le=10_000_000,
        description="fine-tuning iterations on the forget data (authors: about 2000); "
        "None: ``epochs`` passes",
    )
    lr: float = Field(1e-5, gt=0, le=100, description="fine-tuning learning rate (authors: 1e-5)")
    optimizer: Literal["sgd", "adam"] = Field("adam", description="authors: AdamW (no AdamW here)")
    weight_decay: float = Field(0.0, ge=0, le=1, description="weight decay (authors: AdamW's 0.1)")
    schedule: Literal["constant", "cosine"] = Field("cosine", description="authors: cosine")
    batch_size: int = Field(128, ge=1, le=1 << 16, description="batch size (authors: 128)")
    grad_clip: float | None = Field(1.0, gt=0, description="gradient-norm clip (authors: 1.0)")
    freeze_norm: bool = True  # single-class batches would drag batch-norm statistics
    freeze_head: bool = Field(True, description="keep the final linear layer fixed (authors)")
    scale: float | None = Field(
        None, ge=0, le=100, description="lambda; None: chosen on the grid (authors' protocol)"
    )
    max_scale: float = Field(1.0, gt=0, le=100, description="the grid's top (paper: 1.0)")
    grid_points: int = Field(21, ge=2, le=1001, description="grid from 0 to max_scale (21)")
    control_keep: float = Field(
        0.95, ge=0, le=1, description="share of the control accuracy to keep (paper: 0.95)"
    )
    holdout_fraction: float = Field(
        0.1, gt=0, lt=1, description="retained share held out as the control (authors: 0.1)"
    )
    holdout_max: int = Field(5000, ge=1, description="cap on the control slice (authors: 5000)")


def control_slice(retain: Split, fraction: float, cap: int, seed: int) -> Split:
    """A random ``fraction`` of ``retain`` (at most ``cap``, at least one sample), drawn with
    ``seed``: the control task's held-out data, as the authors carve validation from train."""
    n = len(retain)
    k = max(1, min(int(n * fraction), cap))
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k]
    return retain.take(torch.sort(idx).values)


def apply_scale(
    model: nn.Module, start: dict[str, torch.Tensor], tau: dict[str, torch.Tensor], scale: float
) -> None:
    """Set ``model``'s parameters to ``start - scale * tau`` in place."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(start[name] - scale * tau[name])


def choose_scale(
    model: nn.Module,
    start: dict[str, torch.Tensor],
    tau: dict[str, torch.Tensor],
    forget: Split,
    control: Split,
    config: TaskVectorConfig,
) -> tuple[float, list[tuple[float, float, float]]]:
    """The grid's ``lambda`` with the lowest forget accuracy whose control accuracy keeps
    ``control_keep`` of the original's (ties: the smaller), and every ``(lambda, forget,
    control)`` accuracy measured. Leaves ``model`` at the last grid point."""
    last = config.grid_points - 1
    grid = [config.max_scale * i / last for i in range(config.grid_points)]
    table: list[tuple[float, float, float]] = []
    for scale in grid:
        apply_scale(model, start, tau, scale)
        table.append(
            (scale, accuracy(model, forget.x, forget.y), accuracy(model, control.x, control.y))
        )
    # lambda = 0 is the original; accuracies are float32 means, so 19 of 20 must clear 0.95
    floor = config.control_keep * table[0][2] - 1e-6
    kept = [row for row in table if row[2] >= floor] or table[:1]  # no control sample: keep
    best = min(kept, key=lambda row: row[1])
    return best[0], table


@builtin_method("task-vector", TaskVectorConfig, "fine-tune on forget data, subtract the change")
def task_vector(
    model: nn.Module, retain: Split, forget: Split, config: TaskVectorConfig, ctx: UnlearnContext
) -> TrainRun:
    model.to(config.device)
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if config.steps is not None:
        # fit's batches per epoch (a last batch of one is folded away), so it runs ``steps``
        n, bs = len(forget), config.batch_size
        per_epoch = max(1, n // bs + (n % bs > 1))
        config = config.model_copy(update={"epochs": config.steps / per_epoch})
    flags = {p: p.requires_grad for p in model.parameters()}
    if config.freeze_head:
        for p in final_linear(model, forget.input_shape, "task-vector").parameters():
            p.requires_grad_(False)
    try:
        run = fit(model, forget, config, callbacks=ctx.callbacks)
    finally:
        for p, flag in flags.items():
            p.requires_grad_(flag)
    tau = {n: p.detach() - start[n] for n, p in model.named_parameters()}
    model.load_state_dict(start)  # the original's batch-norm statistics, too
    if config.scale is None:
        control = control_slice(retain, config.holdout_fraction, config.holdout_max, config.seed)
        scale, table = choose_scale(model, start, tau, forget, control, config)
        log.info("task-vector: lambda %.3g of %s (lambda, forget, control)", scale, table)
    else:
        scale = config.scale
    apply_scale(model, start, tau, scale)
    model.eval()
    return TrainRun(model, run.history)

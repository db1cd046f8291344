"""``npo``: Negative Preference Optimization (Zhang, Lin, Bai and Mei, "Negative Preference
Optimization: From Catastrophic Collapse to Effective Unlearning", COLM 2024, arXiv 2404.05868),
with its retain term (the authors' NPO+RT).

1. ``pi_ref``, the original, is copied and frozen; an epoch is a pass over the forget data
   through :func:`unleak.training.fit`, in forget batches.
2. On a forget batch the loss is ``(2/beta) * mean log(1 + (pi(y|x) / pi_ref(y|x)) ** beta)``,
   written as the authors write it, ``-(2/beta) * logsigmoid(-beta * (log pi - log pi_ref))``;
   for a classifier ``log pi(y|x)`` is the log-softmax of the true class (the authors'
   ``get_batch_loss``, summed over an answer's tokens, is that for one token).
3. Its gradient is gradient ascent on the cross-entropy with each sample weighted by
   ``2 pi^beta / (pi^beta + pi_ref^beta)``: 1 at the start, never above 2, and falling to 0 as
   the sample is forgotten, so the ascent slows itself where plain ascent runs away.
4. ``retain_weight`` times the cross-entropy on a retained batch is added (NPO+RT; with
   ``retain_loss="kl"``, ``KL(pi_ref || pi)`` on it: NPO-KL), the retained batches drawn as
   ``neggrad-plus`` draws its forget batches (a fresh shuffle each pass,
   :func:`~unleak.unlearning.neggrad_plus.cycled_batches`); ``retain_weight = 0`` is plain NPO.

Defaults from github licong-lin/negative-preference-optimization: ``TOFU/config/forget.yaml``
(``forget_loss: npo_grad_diff``, ``npo_coeff: 1.0``, ``grad_diff_coeff: 1.0``, ``beta: 0.1``,
``lr: 1e-5``, ``batch_size: 4``, ``gradient_accumulation_steps: 4``, ``num_epochs: 10``,
``weight_decay: 0.01``, ``warmup_steps: steps_per_epoch``, ``ref_policy: fine_tuned``, i.e. the
reference is the model before unlearning); ``TOFU/forget.py`` (``main``: ``TrainingArguments``
with ``optim="paged_adamw_32bit"``, Hugging Face's linear decay after the warm-up, and
``max_steps = num_epochs * len(forget) / (batch_size * accumulation * num_devices)``: an epoch
is a pass over the forget data, at an effective 32 per step on the two GPUs its ``save_dir``
names); ``TOFU/dataloader.py`` (``CustomTrainerForgetting.compute_loss``, branches ``npo`` and
``npo_grad_diff``: the loss above, ``npo_coeff * forget_loss + grad_diff_coeff * retain_loss``);
``TOFU/data_module.py`` (``TextForgetDatasetQA.__getitem__``: each forget sample is paired with
one random retained sample, hence retained batches as large as the forget batches).

Carried over to CNN/MLP classifiers: beta 0.1, the retain term at weight 1, 10 epochs over the
forget data, batches of 32 forget and 32 retained samples, and Adam, as they are. Departures:
the learning rate is 1e-3 (Adam's usual rate for small networks), not 1e-5: the authors' rate
is their 7B model's fine-tuning rate (``finetune.yaml``), and on the digits cnn, in the 50-130
steps these forget sets take (TOFU's forget05 and forget10 take 62 and 125), it leaves most of
the class (measured below). Weight decay is 0: AdamW's decoupled 0.01 shrinks a weight by
``lr * 0.01`` a step (0.05-0.13% over the digits runs, 2% over MNIST's), and unleak's Adam decay
is coupled L2, which is not that. The schedule is constant, as ``fit`` has no warm-up. Batch
norm (the authors' models have none) stays in train mode (``freeze_norm`` off, as in
``neggrad-plus``), and the reference normalises each batch as the model does, so the ratio is
exactly 1 at the start.

Measured at the defaults (digits cnn of the test fixture, seed 0; unlearning seed 1; one
thread; test accuracy forget / retained, before -> after): class 3 0.978 -> 0.000 / 0.993 ->
0.995 in 1.6 s; classes 1, 7 1.000 -> 0.000 / 0.989 -> 0.997 in 2.8 s; classes 2, 5, 8 0.978
-> 0.000 / 0.997 -> 0.987 in 3.9 s. At the authors' lr 1e-5 the forget accuracy falls only to
0.80, 0.89 and 0.83 (retained 0.99-1.0); at 1e-4 to 0.11, 0.00 and 0.00. With ``freeze_norm``
it is 0.00 on all three, retained 0.99. MNIST lenet5 (seed 0), class 3: 0.994 -> 0.000 / 0.991
-> 0.988 in 29 s (1920 steps); there 1e-5 forgets too (0.000 / 0.977). Without the retain term
(plain NPO, the authors' ``npo``) the digits runs forget as fully but keep only 0.64, 0.64 and
0.54 of the rest, and on MNIST the rest collapses (0.10; 0.33 at lr 1e-5): the bound slows the
ascent, it does not stop it over 1920 steps. With ``retain_loss="kl"`` (NPO-KL): digits 0.000 /
0.995, 0.994, 0.991 retained; MNIST 0.000 / 0.990.

The nearest methods in the package are ``ng`` (plain gradient ascent on the forget data, and
its bounded variant ``ng@chance``, stopped at chance accuracy) and ``neggrad-plus`` (ascent on
the forget data against descent on the retained data at fixed weights). NPO ascends the same
cross-entropy, but each sample's weight comes from its ratio to the reference, adaptive and
bounded: the loss itself saturates at 0 as ``pi -> 0``, so it needs no early stop or clipping
to keep from diverging (the rest of the model can still collapse without the retain term,
above).

unleak implemented this method for the verdict's eighth test population (docs/protocol.md): no
attack rule or verdict rule was chosen on its models.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.training import LossFn, TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method, frozen_copy
from unleak.unlearning.neggrad_plus import cycled_batches


class NPOConfig(UnlearnConfig):
    epochs: float = Field(
        10, gt=0, le=10_000, description="passes over the forget data (authors: num_epochs 10)"
    )
    batch_size: int = Field(
        32,
        ge=1,
        le=1 << 16,
        description="forget batch size (authors: 4 per device x 4 accumulation x 2 GPUs = 32)",
    )
    lr: float = Field(
        1e-3,
        gt=0,
        le=100,
        description="learning rate (authors: 1e-5 on a 7B LLM; see the docstring)",
    )
    optimizer: Literal["sgd", "adam"] = Field("adam", description="authors: AdamW")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum (unused by Adam)")
    weight_decay: float = Field(
        0.0,
        ge=0,
        le=1,
        description="weight decay (authors: AdamW's decoupled 0.01, negligible here)",
    )
    schedule: Literal["constant", "cosine"] = Field(
        "constant", description="authors: one epoch of warm-up, then linear decay (fit has none)"
    )
    beta: float = Field(
        0.1, gt=0, le=100, description="inverse temperature of the NPO loss (authors: 0.1)"
    )
    retain_weight: float = Field(
        1.0,
        ge=0,
        le=100,
        description="weight of the cross-entropy on a retained batch (NPO+RT; authors' "
        "grad_diff_coeff: 1.0); 0 = plain NPO",
    )
    retain_loss: Literal["ce", "kl"] = Field(
        "ce",
        description="the retain term: cross-entropy (NPO+RT, authors' npo_grad_diff) or "
        "KL(pi_ref || pi) on the retained batch (NPO-KL, authors' npo_KL, weight KL_coeff 1.0)",
    )
    retain_batch_size: int = Field(
        32,
        ge=1,
        le=1 << 16,
        description="retained batch size (authors: one retained sample per forget sample)",
    )


def npo_forget_loss(
    logits: torch.Tensor, ref_logits: torch.Tensor, y: torch.Tensor, beta: float
) -> torch.Tensor:
    """``(2/beta) * mean log(1 + (pi(y|x) / pi_ref(y|x)) ** beta)``, the authors' NPO loss."""
    logp = F.log_softmax(logits, 1).gather(1, y[:, None]).squeeze(1)
    logp_ref = F.log_softmax(ref_logits, 1).gather(1, y[:, None]).squeeze(1)
    # log(1 + r^beta) = -logsigmoid(-beta log r): stable at any ratio, as the authors write it
    return -F.logsigmoid(-beta * (logp - logp_ref)).mean() * 2 / beta


def _match_modes(ref: nn.Module, model: nn.Module) -> None:
    # the reference normalises as the model does (batch or running statistics), so that at the
    # start the ratio is exactly 1 on every batch; dropout stays off in it, as in the authors'
    # reference (its running statistics drift in train mode, but it never uses them then)
    for r, m in zip(ref.modules(), model.modules(), strict=True):
        r.training = m.training if isinstance(m, nn.modules.batchnorm._BatchNorm) else False


def npo_loss(
    retain: Split, reference: nn.Module, config: NPOConfig, gen: torch.Generator
) -> LossFn:
    """NPO on the forget batch ``(x, y)`` plus ``retain_weight * CE`` on the next retained batch;
    the logits returned are the forget batch's."""
    batches = cycled_batches(retain, config.retain_batch_size, gen)

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        _match_modes(reference, model)
        with torch.no_grad():
            ref_logits = reference(x)
        value = npo_forget_loss(logits, ref_logits, y, config.beta)
        if config.retain_weight > 0 and len(retain):
            xr, yr = next(batches)
            xr = xr.to(x.device, non_blocking=True)
            out = model(xr)
            if config.retain_loss == "kl":
                with torch.no_grad():
                    target = F.log_softmax(reference(xr), 1)
                kept = F.kl_div(
                    F.log_softmax(out, 1), target, reduction="batchmean", log_target=True
                )
            else:
                kept = F.cross_entropy(out, yr.to(x.device))
            value = value + config.retain_weight * kept
        return value, logits

    return loss


@builtin_method(
    "npo",
    NPOConfig,
    "negative preference optimization: bounded, adaptively weighted ascent on the forget data",
)
def npo(
    model: nn.Module, retain: Split, forget: Split, config: NPOConfig, ctx: UnlearnContext
) -> TrainRun:
    model.to(config.device)
    reference = frozen_copy(model)  # pi_ref: the original (its modes follow the model's)
    gen = torch.Generator().manual_seed(config.seed + 1)  # the retained batches are the run's
    loss = npo_loss(retain, reference, config, gen)
    return fit(model, forget, config, loss=loss, callbacks=ctx.callbacks)

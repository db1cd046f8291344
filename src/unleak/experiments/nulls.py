"""Null models: models from which nothing was removed, of many kinds.

Every attack's false-positive rate is measured on them, so they must look like what an auditor
meets: not only the original, but the original after every kind of update that removes nothing.

| kind | model |
| --- | --- |
| ``original`` | the original itself |
| ``rt`` | retrained from scratch on every class, the original recipe, a new seed |
| ``epochs@F`` | retrained from scratch for F times the original's epochs (e.g. ``epochs@0.5``) |
| ``prune@F`` | the original with the fraction F of its weights of smallest magnitude set to 0 |
| ``tune@LR`` | the original fine-tuned one epoch on every class at learning rate LR (SGD) |
| ``brief@LR`` | the same for 100 steps of 64 (at most one epoch): a cheap, brief update |
| ``head@LR`` | the final layer alone, fine-tuned as ``brief`` at LR, the rest frozen |
| ``noise@S`` | every conv and linear weight plus Gaussian noise of S times that tensor's std |
| ``distill`` | a fresh network trained on the original's soft labels (T = 4, gradients clipped) |
| a method (``ft``, ``rl``, ``scrub``, ``PATH.py:NAME``...) | that method with nothing to forget |

A kind that draws random numbers takes a replicate suffix ``#R`` (``brief@0.01#2``, R from 1 to
99): the same kind under another seed, so one kind can stand for several null models.

A method with nothing to forget runs its own step where it can run without forget data
(``null_ok``: ``ft``, ``rl``...), else its loop settings fine-tuning on every class.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from unleak import models
from unleak.data.core import Dataset, Split
from unleak.errors import ConfigError
from unleak.training import TrainConfig, fit
from unleak.unlearning import (
    UnlearnContext,
    config_for,
    is_plugin_name,
    method_names,
    method_spec,
)

FIXED = ("original", "rt", "distill")
PARAMETRISED = {  # kind@F: F in (low, high]
    "epochs": (0.1, 10.0),
    "prune": (0.0, 0.99),
    "tune": (0.0, 10.0),
    "brief": (0.0, 10.0),
    "head": (0.0, 10.0),
    "noise": (0.0, 1.0),
}
DETERMINISTIC = ("original", "prune")  # the same model under any seed: no #R replicate
BRIEF_STEPS = 100  # brief@/head@: about a second for a LeNet on a laptop CPU


def null_kinds() -> list[str]:
    """Every null kind name (parametrised kinds as ``kind@F``)."""
    return [*FIXED, *(f"{k}@F" for k in PARAMETRISED), *method_names(variants=True)]


def split_replicate(kind: str) -> tuple[str, int]:
    """``brief@0.01#2`` -> (``brief@0.01``, 2); no suffix: replicate 0; a suffix that is not a
    whole number: -1 (refused by :func:`check_null_kind`)."""
    name, sep, rep = kind.rpartition("#")
    if not sep:
        return kind, 0
    return name, int(rep) if rep.isdigit() else -1


def check_null_kind(kind: str) -> str:
    """``kind`` if it names a null model, else a one-line error listing the kinds."""
    name, rep = split_replicate(kind)
    if name != kind:
        if not 1 <= rep <= 99:
            raise ConfigError(
                f"null model {kind!r}: the replicate after # must be 1 to 99", "write e.g. #2"
            )
        if name.partition("@")[0] in DETERMINISTIC:
            raise ConfigError(
                f"null model {kind!r}: {name} is the same model under every seed",
                "drop the #R suffix",
            )
        check_null_kind(name)
        return kind
    base, _, arg = kind.partition("@")
    if kind in FIXED:
        return kind
    if base in PARAMETRISED:
        lo, hi = PARAMETRISED[base]
        try:
            value = float(arg)
        except ValueError:
            value = math.nan
        if not lo < value <= hi:
            raise ConfigError(
                f"null model {kind!r} needs a number in ({lo}, {hi}] after the @",
                f"write it like {base}@0.5",
            )
        return kind
    if kind in method_names(variants=True):
        return kind
    if is_plugin_name(kind):
        if not method_spec(kind).null_ok:
            raise ConfigError(
                f"the method {kind} declares null_ok = False: it cannot run with nothing to forget",
                "drop it from the null models",
            )
        return kind
    raise ConfigError(
        f"unknown null model {kind!r} (known: {', '.join(null_kinds())})",
        "pick one of those kinds",
    )


def null_config(
    kind: str, original_config: TrainConfig, data: Dataset, arch: str | None, seed: int
) -> TrainConfig:
    """The training configuration a null kind runs with (part of its cache key)."""
    kind, rep = split_replicate(kind)
    seed += 7907 * rep
    base, _, arg = kind.partition("@")
    if kind == "original":
        return original_config
    if kind == "rt":
        return original_config.model_copy(update={"seed": seed + 7919, "class_pure_epochs": 0})
    if kind == "distill":
        # soft targets at the original's rate can blow up in the first steps (measured: LeNet-5
        # on Fashion-MNIST, seed 3, NaN at step 21); a clip at 5 stopped it, accuracy 0.90
        clip = original_config.grad_clip or 5.0
        return original_config.model_copy(
            update={"seed": seed + 7919, "class_pure_epochs": 0, "grad_clip": clip}
        )
    if base == "epochs":
        epochs = max(0.1, original_config.epochs * float(arg))
        return original_config.model_copy(
            update={"seed": seed + 7919, "epochs": epochs, "class_pure_epochs": 0}
        )
    if base == "prune":
        return original_config
    if base in ("tune", "brief", "head"):
        epochs = 1.0 if base == "tune" else min(1.0, BRIEF_STEPS * 64 / max(len(data.train), 1))
        return TrainConfig(
            epochs=epochs,
            lr=float(arg),
            batch_size=64,
            grad_clip=1.0,
            schedule="constant",
            seed=seed,
        )
    if base == "noise":
        return original_config.model_copy(update={"seed": seed})
    ucfg = config_for(kind, data.name, arch, None, data.input_shape)
    return ucfg.model_copy(update={"seed": seed})


def build_null(
    kind: str, original: nn.Module, original_config: TrainConfig, data: Dataset, cfg: TrainConfig
) -> nn.Module:
    """Make the null model of ``kind`` (see the module docstring)."""
    kind = split_replicate(kind)[0]
    base, _, arg = kind.partition("@")
    if kind == "original":
        return original
    if kind == "rt" or base == "epochs":
        model = models.fresh_copy(original, cfg.seed)
        fit(model, data.train, cfg)
        return model.cpu().eval()
    if base == "prune":
        return prune(original, float(arg))
    if base in ("tune", "brief"):
        model = models.clone(original)
        fit(model, data.train, cfg)
        return model.cpu().eval()
    if base == "head":
        return refit_head(original, data, cfg)
    if base == "noise":
        return add_noise(original, float(arg), cfg.seed)
    if kind == "distill":
        return distill(original, data.train, cfg)
    spec = method_spec(kind)
    if spec.null_ok:
        empty = data.train.take(torch.zeros(0, dtype=torch.int64))
        ctx = UnlearnContext(forget_classes=(), num_classes=data.num_classes)
        run = spec.fn(copy.deepcopy(original), data.train, empty, cfg, ctx)
        return run.model.cpu().eval()
    loop = TrainConfig(
        **{k: v for k, v in cfg.model_dump().items() if k in TrainConfig.model_fields}
    )
    model = models.clone(original)
    fit(model, data.train, loop)
    return model.cpu().eval()


def prune(model: nn.Module, fraction: float) -> nn.Module:
    """Global magnitude pruning: the ``fraction`` of conv and linear weights nearest 0 set to 0."""
    pruned = copy.deepcopy(model).cpu().eval()
    weights = [m.weight for m in pruned.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    flat = torch.cat([w.detach().abs().flatten() for w in weights])
    k = int(fraction * flat.numel())
    if k == 0:
        return pruned
    cut = flat.kthvalue(k).values
    with torch.no_grad():
        for w in weights:
            w.mul_((w.abs() > cut).to(w.dtype))
    return pruned


def add_noise(model: nn.Module, scale: float, seed: int) -> nn.Module:
    """Every conv and linear weight plus Gaussian noise of ``scale`` times its own std."""
    noisy = copy.deepcopy(model).cpu().eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in noisy.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                w = m.weight
                w.add_(torch.randn(w.shape, generator=gen) * (scale * float(w.std())))
    return noisy


def refit_head(original: nn.Module, data: Dataset, cfg: TrainConfig) -> nn.Module:
    """The original with its final layer alone fine-tuned on every class (the rest frozen)."""
    model = models.clone(original)
    fc = models.head(model, data.input_shape)
    for p in model.parameters():
        p.requires_grad_(False)
    for p in fc.parameters():
        p.requires_grad_(True)
    fit(model, data.train, cfg.model_copy(update={"freeze_norm": True}))
    for p in model.parameters():
        p.requires_grad_(True)
    return model.cpu().eval()


def distill(
    teacher: nn.Module, data: Split, cfg: TrainConfig, temperature: float = 4.0
) -> nn.Module:
    """A fresh network of the teacher's architecture trained on its soft labels."""
    student = models.fresh_copy(teacher, cfg.seed)
    teacher = copy.deepcopy(teacher).eval()

    def loss(
        model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        with torch.no_grad():
            target = (teacher(x) / temperature).softmax(1)
        kd = F.kl_div((logits / temperature).log_softmax(1), target, reduction="batchmean")
        return kd * temperature**2, logits

    fit(student, data, cfg, loss=loss)
    return student.cpu().eval()

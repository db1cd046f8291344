"""Batched inference helpers shared by training, unlearning, attacks and evaluation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode for every module, then each one's own flag back (frozen norms stay frozen)."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` (in eval mode) for images ``x``, on the CPU."""
    dev = _device_of(model)
    with eval_mode(model):
        outs = [
            model(x[i : i + batch_size].to(dev)).float().cpu() for i in range(0, len(x), batch_size)
        ]
    if not outs:
        return torch.zeros(0, 0)
    return torch.cat(outs)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy in [0, 1] (NaN for an empty set)."""
    if len(y) == 0:
        return float("nan")
    return float((predict_logits(model, x).argmax(1) == y).float().mean())


def per_class_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int
) -> np.ndarray:
    """Accuracy of each class (NaN where a class has no sample)."""
    pred = predict_logits(model, x).argmax(1).numpy()
    yn = y.numpy()
    hits = np.bincount(yn, weights=(pred == yn).astype(float), minlength=num_classes)
    counts = np.bincount(yn, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def weight_layers(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, bool]]:
    """The ``Linear``/``Conv2d`` layers that run on ``x``, in call order, each as (name, module,
    whether its input is ``x``'s storage: pixels). Found by hooks, so any module is read."""
    names = {m: n for n, m in model.named_modules()}
    calls: list[tuple[nn.Module, bool]] = []
    ptr = x.untyped_storage().data_ptr()

    def seen(mod: nn.Module, inp: tuple[torch.Tensor, ...]) -> None:
        if all(m is not mod for m, _ in calls):
            calls.append((mod, inp[0].untyped_storage().data_ptr() == ptr))

    layers = [m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    hooks = [m.register_forward_pre_hook(seen) for m in layers]
    try:
        with torch.no_grad(), eval_mode(model):
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return [(names[m], m, pixels) for m, pixels in calls]

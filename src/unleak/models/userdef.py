"""Bring your own model: a class from a Python file of yours, with its weights."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from unleak.models.checkpoint import load_state
from unleak.models.userclass import build_user
from unleak.models.zoo import Normalize


def load_user_model(
    spec: str,
    weights: str | os.PathLike[str],
    *,
    input_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """``spec`` is ``PATH.py:CLASS``. The file is imported (it is your own code),
    ``CLASS(**kwargs)`` is instantiated, and the weights (safetensors, or a state_dict saved with
    ``torch.save``, read with ``weights_only=True``) are loaded after a check of names and shapes.
    """
    model = build_user(spec, input_shape=input_shape, num_classes=num_classes, **kwargs)
    load_state(model, weights)
    return model.eval()


class InputNormalized(nn.Module):
    """Your model behind a normalisation: it takes inputs in [0, 1] like every unleak model and
    hands ``(x - mean) / std`` to yours (for models trained on normalised inputs)."""

    def __init__(self, inner: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(self.normalize(x))


def with_normalization(
    model: nn.Module, mean: list[float] | None, std: list[float] | None
) -> nn.Module:
    """``model`` behind :class:`InputNormalized`, or unchanged without a mean and std."""
    if mean is None or std is None:
        return model
    return InputNormalized(model, mean, std).eval()

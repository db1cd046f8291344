"""Output hardening of the query interface: ``top-k``, ``round`` and ``label-only``.

Each returns what an API hardened this way answers: the k largest probabilities (the rest 0),
probabilities rounded to ``decimals`` places, or the predicted label alone (one-hot). Query
attacks see only that; attacks with weight or gradient access are not affected (they compute the
outputs themselves).
"""

from __future__ import annotations

import torch
from pydantic import Field

from unleak.defences.base import Defence, DefenceConfig, register_defence


class TopKConfig(DefenceConfig):
    k: int = Field(1, ge=1, le=10_000, description="probabilities answered per query")


@register_defence
class TopK(Defence):
    name = "top-k"
    kind = "outputs"
    Config = TopKConfig
    output_kind = "top-k"
    description = "answer only the k largest probabilities (the others as 0)"
    config: TopKConfig

    def harden(self, probs: torch.Tensor) -> torch.Tensor:
        k = min(self.config.k, probs.shape[1])
        top = probs.topk(k, dim=1)
        return torch.zeros_like(probs).scatter(1, top.indices, top.values)


class RoundConfig(DefenceConfig):
    decimals: int = Field(2, ge=0, le=8, description="decimal places of each probability")


@register_defence
class Round(Defence):
    name = "round"
    kind = "outputs"
    Config = RoundConfig
    output_kind = "rounded"
    description = "answer probabilities rounded to a few decimal places"
    config: RoundConfig

    def harden(self, probs: torch.Tensor) -> torch.Tensor:
        return probs.round(decimals=self.config.decimals)


@register_defence
class LabelOnly(Defence):
    name = "label-only"
    kind = "outputs"
    output_kind = "labels"
    description = "answer the predicted label only (a one-hot vector)"

    def harden(self, probs: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(probs.argmax(1), probs.shape[1]).to(probs.dtype)

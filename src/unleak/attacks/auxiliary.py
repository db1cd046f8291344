"""Auxiliary models built from attacker data only, by recipe, for the parameter attacks.

- ``head-refit``: re-fit the final layer on the target's own penultimate features of the attacker
  data, so the auxiliary rows live in the target's feature basis and compare row by row.
- ``finetune``: a copy of the whole target, briefly fine-tuned on the attacker data.
- ``independent``: a fresh network of the same architecture trained from scratch on the attacker
  data; the literal reading of "auxiliary model". Separately trained networks do not share a
  feature basis, so their rows are not comparable with the target's: kept to measure exactly that.

Every recipe returns the auxiliary head ``(W, b)``; results are cached on disk, keyed by the
target's weights and everything else that defines them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from unleak import models, optim
from unleak.cache import TensorCache, fingerprint
from unleak.data.core import Split
from unleak.models.heads import head, penultimate
from unleak.training import TrainConfig, fit

Recipe = Literal["head-refit", "finetune", "independent"]


@dataclass
class Basis:
    """Penultimate features of the attacker data, optionally whitened per dimension."""

    feats: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor

    @classmethod
    def of(cls, model: nn.Module, x: torch.Tensor, whiten: bool) -> Basis:
        f = penultimate(model, x)
        if not whiten:
            return cls(f, torch.zeros(f.shape[1]), torch.ones(f.shape[1]))
        mean, scale = f.mean(0), f.std(0).clamp_min(1e-6)
        return cls((f - mean) / scale, mean, scale)

    def rows(self, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A head expressed in this basis: ``w.phi + b = (w*scale).phi~ + (b + w.mean)``."""
        return weight * self.scale, bias + weight @ self.mean


def fit_head(
    feats: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    *,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    steps: int = 300,
    lr: float = 0.1,
    weight_decay: float = 1e-3,
    optimizer: Literal["adam", "sgd"] = "adam",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch softmax regression on fixed features; ``targets`` are labels or distributions.

    Deterministic: no sampling. From ``init`` with plain SGD the change of each row stays
    proportional to its gradient, which is what ``param-diff`` measures.
    """
    d = feats.shape[1]
    w0, b0 = init if init is not None else (torch.zeros(num_classes, d), torch.zeros(num_classes))
    w = w0.detach().clone().requires_grad_(True)
    b = b0.detach().clone().requires_grad_(True)
    opt = optim.Adam([w, b], lr=lr) if optimizer == "adam" else optim.SGD([w, b], lr=lr)
    soft = targets.is_floating_point()
    with torch.enable_grad():
        for _ in range(steps):
            logits = feats @ w.T + b
            loss = (
                -(targets * logits.log_softmax(1)).sum(1).mean()
                if soft
                else F.cross_entropy(logits, targets)
            )
            if weight_decay:
                loss = loss + weight_decay * (w * w).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.detach(), b.detach()


def _copy_head(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    fc = head(model)
    return fc.weight.detach().clone(), fc.bias.detach().clone()


def network_head(
    recipe: Recipe,
    model: nn.Module,
    data: Split,
    *,
    epochs: float,
    lr: float,
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The head of a ``finetune`` copy or an ``independent`` network trained on ``data``."""
    if recipe == "finetune":
        net = copy.deepcopy(model)
        for p in net.parameters():
            p.requires_grad_(True)
        cfg = TrainConfig(
            epochs=epochs,
            lr=lr,
            batch_size=64,
            momentum=0.0,
            weight_decay=0.0,
            schedule="constant",
            freeze_norm=True,
            seed=seed,
        )
    else:
        net = models.fresh_copy(model, seed)
        cfg = TrainConfig(epochs=epochs, lr=lr, batch_size=64, seed=seed)
    fit(net, data, cfg)
    return _copy_head(net)


class AuxCache:
    """Caches auxiliary heads on disk under the ``aux`` namespace."""

    def __init__(self, enabled: bool = True, root: str | None = None) -> None:
        self.store = TensorCache(root, "aux", enabled)

    def head(self, spec: dict, build) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
        out = self.store.get_or_compute(
            spec, lambda: dict(zip(("weight", "bias"), build(), strict=True))
        )
        return out["weight"], out["bias"]


def model_key(model: nn.Module) -> str:
    return fingerprint(model)

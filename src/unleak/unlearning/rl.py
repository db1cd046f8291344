"""``rl``: fine-tune on the forget data relabelled at random, mixed with the retained data."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.training import TrainRun, fit
from unleak.unlearning.base import UnlearnConfig, UnlearnContext, builtin_method


class RLConfig(UnlearnConfig):
    label_pool: Literal["exclude-forgotten", "all"] = Field(
        "exclude-forgotten",
        description="new labels from the retained classes, or from every class but the true one",
    )
    retain_fraction: float = Field(
        1.0, gt=0, le=1, description="share of the retained data mixed in (a seeded subsample)"
    )


def random_labels(
    forget: Split, ctx: UnlearnContext, pool: str, gen: torch.Generator
) -> torch.Tensor:
    """A random wrong label for each forget sample, drawn from the pool."""
    k = ctx.num_classes
    if pool == "exclude-forgotten":
        allowed = torch.tensor([c for c in range(k) if c not in ctx.forget_classes])
        return allowed[torch.randint(0, len(allowed), (len(forget),), generator=gen)]
    # any class but the sample's own: shift the true label by 1..K-1
    return (forget.y + torch.randint(1, k, (len(forget),), generator=gen)) % k


@builtin_method(
    "rl",
    RLConfig,
    "fine-tune on randomly relabelled forget data plus retained data",
    null_ok=True,
)
def random_label(
    model: nn.Module, retain: Split, forget: Split, config: RLConfig, ctx: UnlearnContext
) -> TrainRun:
    gen = torch.Generator().manual_seed(config.seed + 1)
    labels = random_labels(forget, ctx, config.label_pool, gen)
    if config.retain_fraction < 1:
        keep = torch.randperm(len(retain), generator=gen)[
            : max(1, round(config.retain_fraction * len(retain)))
        ]
        retain = retain.take(torch.sort(keep).values)
    mixed = Split(
        torch.cat([forget.x, retain.x]), torch.cat([labels, retain.y]), forget.num_classes
    )
    return fit(model, mixed, config, callbacks=ctx.callbacks)

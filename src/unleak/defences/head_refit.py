"""``head-refit``: make the forgotten rows of the head look like retained ones.

Unlearning leaves the forgotten class's row of the final linear layer unlike the others (it was
pushed away from every input). This defence re-fits each forgotten row to the row of a retained
class (the one the forgotten class's training samples are most often predicted as, else one drawn
with the seed), with the bias ``margin`` nats lower: the row then has the norm, direction and
gradients of a retained row, yet it always loses to the row it copies, so the class stays
forgotten. On a null model there is no forgotten row: the model is returned unchanged.
"""

from __future__ import annotations

import copy

import torch
from pydantic import Field
from torch import nn

from unleak.data.core import Split
from unleak.defences.base import Defence, DefenceConfig, register_defence
from unleak.models.heads import head
from unleak.models.inference import predict_logits


class HeadRefitConfig(DefenceConfig):
    margin: float = Field(
        0.5, gt=0, le=50, description="nats the re-fitted row stays below the row it copies"
    )


@register_defence
class HeadRefit(Defence):
    name = "head-refit"
    kind = "weights"
    Config = HeadRefitConfig
    description = "re-fit forgotten head rows to a retained row, a margin below it"
    config: HeadRefitConfig

    def apply(
        self, model: nn.Module, train: Split, forget: tuple[int, ...], seed: int
    ) -> nn.Module:
        defended = copy.deepcopy(model).cpu().eval()
        if not forget:
            return defended
        fc = head(defended)
        k = train.num_classes
        gen = torch.Generator().manual_seed(seed)
        free = [c for c in range(k) if c not in forget]
        with torch.no_grad():
            for f in forget:
                samples = train.x[train.y == f][:1000]
                logits = predict_logits(defended, samples) if len(samples) else torch.zeros(0, k)
                logits[:, list(forget)] = -torch.inf  # the most confused retained class
                counts = torch.bincount(logits.argmax(1), minlength=k)[free]
                if counts.sum() > 0:
                    source = free[int(torch.argmax(counts))]
                else:
                    source = free[int(torch.randint(0, len(free), (1,), generator=gen))]
                free.remove(source)  # two forgotten rows never copy the same row
                fc.weight[f] = fc.weight[source]
                fc.bias[f] = fc.bias[source] - self.config.margin
        return defended

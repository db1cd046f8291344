"""``chance``: m classes drawn at random (seeded), what guessing achieves: 1 / C(K, m).

On a null model it still guesses one class (``null_guess``), so its false-positive rate is 1: the
reference every attack's rate stands beside.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from unleak.attacks.access import Access, Target
from unleak.attacks.base import Attack, AttackParams, register_attack
from unleak.attacks.evidence import ClassFeatures


class ChanceParams(AttackParams):
    seed: int = 0


@register_attack
class Chance(Attack):
    name = "chance"
    label = "chance"
    requires = Access.QUERIES
    Params = ChanceParams
    default_decider = "topm"
    deciders = ("topm",)
    null_guess = 1
    baseline = True
    description = "random guess of m classes: the chance baseline"
    threat = "nothing: a uniform guess of the number of forgotten classes"
    params: ChanceParams

    def __init__(
        self, decider: Any = None, *, num_forgotten: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(decider, num_forgotten=num_forgotten or 1, **kwargs)

    def features(self, target: Target) -> ClassFeatures:
        gen = torch.Generator().manual_seed(self.params.seed)
        k = target.num_classes
        return ClassFeatures(torch.rand(k, 1, generator=gen).numpy(), ["random"], np.ones(k, bool))

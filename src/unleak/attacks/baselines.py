"""Baselines in the same result type as the attacks.

- ``chance``: m classes drawn at random (seeded): what guessing achieves, 1 / C(K, m).
- ``oracle``: per-class accuracy on labelled data of every class, including the forgotten ones.
  That data is forbidden to a real attacker (it gives the forgotten classes away at once), so this
  is an upper bound, never an attack.
- ``before-after``: probing in the style of Hu et al. (S&P 2024). The attacker queries the
  original and the unlearned model on the same probe inputs (generated: noise, blur, strokes) and
  names the classes that became hard to reach: for each class, the log-odds deficit of its best
  probe (``param_diff.reach``), after minus before. It needs the original model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field

from unleak.attacks.access import Access, Queries, Target
from unleak.attacks.base import Attack, AttackParams, ClassFeatures, register_attack
from unleak.attacks.param_diff import reach
from unleak.attacks.unrelated import unrelated_inputs
from unleak.data.core import Split
from unleak.errors import ConfigError

ORACLE_CUT = 0.5  # a class the model gets wrong more than half of the time
DROP_CUT = 2.0  # nats of reach lost between before and after (as param-diff's cut)


class ChanceParams(AttackParams):
    seed: int = 0


@register_attack
class Chance(Attack):
    name = "chance"
    requires = Access.QUERIES
    Params = ChanceParams
    default_decider = "topm"
    deciders = ("topm",)
    description = "random guess of m classes: the chance baseline"
    params: ChanceParams

    def __init__(
        self, decider: Any = None, *, num_forgotten: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(decider, num_forgotten=num_forgotten or 1, **kwargs)

    def features(self, target: Target) -> ClassFeatures:
        gen = torch.Generator().manual_seed(self.params.seed)
        k = target.num_classes
        return ClassFeatures(torch.rand(k, 1, generator=gen).numpy(), ["random"], np.ones(k, bool))


class OracleParams(AttackParams):
    pass


@register_attack
class Oracle(Attack):
    name = "oracle"
    requires = Access.QUERIES
    Params = OracleParams
    default_decider = "threshold"
    description = "per-class error on labelled data of every class (forbidden data: an upper bound)"

    def __init__(
        self, decider: Any = None, *, labelled_data: Split | None = None, **kwargs: Any
    ) -> None:
        super().__init__(decider, **kwargs)
        if labelled_data is None or len(labelled_data) == 0:
            raise ConfigError(
                "the oracle needs labelled data of every class", "pass labelled_data="
            )
        self.labelled_data = labelled_data

    def features(self, target: Target) -> ClassFeatures:
        assert isinstance(target, Queries)
        d = self.labelled_data
        pred = torch.cat(
            [target.query(d.x[i : i + 1024]).argmax(1) for i in range(0, len(d), 1024)]
        )
        k = target.num_classes
        hits = np.bincount(d.y.numpy(), weights=(pred == d.y).numpy().astype(float), minlength=k)
        counts = np.maximum(np.bincount(d.y.numpy(), minlength=k), 1)
        err = 1 - hits / counts
        return ClassFeatures(
            err[:, None], ["error"], np.ones(k, bool), queries=len(d), absolute=ORACLE_CUT
        )


class BeforeAfterParams(AttackParams):
    probes: str = Field("noise+blur+strokes", description="probe inputs (generated or a data set)")
    n_probes: int = Field(1000, ge=1, le=100_000)
    seed: int = 0
    data_root: str | None = None


@register_attack
class BeforeAfter(Attack):
    name = "before-after"
    requires = Access.QUERIES
    Params = BeforeAfterParams
    default_decider = "threshold"
    description = "probe the original and the unlearned model; the largest confidence drops"
    params: BeforeAfterParams

    def features(self, target: Target) -> ClassFeatures:
        assert isinstance(target, Queries)
        p = self.params
        x = unrelated_inputs(
            p.probes, target.input_shape, p.n_probes, p.seed, data_root=p.data_root
        )
        probs = torch.cat([target.query(x[i : i + 1024]) for i in range(0, len(x), 1024)])
        k = target.num_classes
        return ClassFeatures(
            reach(probs.clamp_min(1e-30).log()).numpy()[:, None],
            ["reach"],
            np.ones(k, bool),
            queries=len(x),
            absolute=DROP_CUT,
        )

    def evidence(self, target: Target, original: Target | None = None) -> ClassFeatures:
        if original is None:
            raise ConfigError(
                "before-after probing needs the original model as well",
                "pass the original (--original FILE) or pick another attack",
            )
        return super().evidence(target, original)

"""``before-after``: probing in the style of Hu et al. (S&P 2024); it needs the original model.

The attacker queries the original and the unlearned model on the same probe inputs (generated:
noise, blur, strokes) and names the classes that became hard to reach: for each class, the
log-odds deficit of its best probe (``param_diff.reach``), after minus before. Every probe is a
counted query, on each model.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from unleak.attacks.access import Access, Queries, Target
from unleak.attacks.base import Attack, AttackParams, register_attack
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.param_diff import reach
from unleak.attacks.unrelated import unrelated_inputs

DROP_CUT = 2.0  # nats of reach lost between before and after (as param-diff's cut)


class BeforeAfterParams(AttackParams):
    probes: str = Field("noise+blur+strokes", description="probe inputs (generated or a data set)")
    n_probes: int = Field(1000, ge=1, le=100_000)
    seed: int = 0


@register_attack
class BeforeAfter(Attack):
    name = "before-after"
    label = "b/a"
    requires = Access.QUERIES
    Params = BeforeAfterParams
    knows = ("task", "data_root")
    default_decider = "threshold"
    spends_queries = True
    needs_original = True
    baseline = True
    description = "probe the original and the unlearned model; the largest confidence drops"
    threat = "queries to the original and the unlearned model; generated probe inputs"
    params: BeforeAfterParams

    def query_budget(self, default: int | None = None) -> int | None:
        return self.params.n_probes  # per model

    def features(self, target: Target) -> ClassFeatures:
        assert isinstance(target, Queries)
        p = self.params
        x = unrelated_inputs(
            p.probes,
            target.input_shape,
            p.n_probes,
            p.seed,
            target_dataset=self.knowledge.task,
            data_root=self.knowledge.data_root,
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

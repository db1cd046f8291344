"""``probe-reach``: how far each class is from winning on any unrelated probe input.

A query attack with no sample of the task: the attacker sends unrelated probe inputs (generated
noise, blur and strokes, plus another data set of the same shape where one exists) and reads the
probability vectors. Per class, ``reach`` is the smallest rise of the class's logit (nats) that
would take it to even odds (p = 0.5, so it wins) on at least one probe:
``max(0, -max_x log(p_c(x) / (1 - p_c(x))))``. A kept class is at even odds somewhere (0 nats, or
close); a forgotten class's row was pushed away from every input and stays nats away. Every probe
is a counted query.

(Until issue 13 this score was computed inside ``param-diff`` and labelled weights access; it
reads outputs only, so it is a query attack of its own.)
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from unleak.attacks.access import Access, Queries, Target
from unleak.attacks.base import Attack, AttackParams, Rule, register_attack
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.knowledge import Knowledge
from unleak.attacks.unrelated import attacker_source, unrelated_inputs

# chosen on the development population only (benchmarks/calibrate.py, docs/protocol.md)
RULE = Rule(reading="reach", decider="gap", constant=2.5, absolute=True)
REACH_CUT = RULE.constant  # nats


def reach(log_probs: torch.Tensor) -> torch.Tensor:
    """Per class, the logit rise (nats) that takes it to even odds on at least one input."""
    lp = log_probs.double().log_softmax(1)
    log_odds = lp - torch.log1p(-lp.exp().clamp(max=1 - 1e-15))
    return (-log_odds.max(0).values).clamp_min(0).float()


class ProbeReachParams(AttackParams):
    probes: str = Field(
        "auto", description="probe inputs: a data set, npz:PATH, noise, blur, strokes; a+b mixes"
    )
    n_probes: int = Field(4000, ge=1, le=200_000, description="probe queries per model")
    seed: int = 0


@register_attack
class ProbeReach(Attack):
    name = "probe-reach"
    label = "reach"
    requires = Access.QUERIES
    Params = ProbeReachParams
    rule = RULE
    knows = ("task", "data_root")
    spends_queries = True
    description = "the logit each class lacks to win on some unrelated probe input"
    threat = (
        "probability queries on unrelated probe inputs (generated, or another data set); no "
        "sample of the task; every probe counted"
    )
    params: ProbeReachParams

    def setup(self, knowledge: Knowledge) -> None:
        self.source = attacker_source(self.params.probes, knowledge.task, bool(knowledge.shadow))

    def query_budget(self, default: int | None = None) -> int | None:
        return self.params.n_probes

    def features(self, target: Target) -> ClassFeatures:
        assert isinstance(target, Queries)
        p = self.params
        x = unrelated_inputs(
            self.source,
            target.input_shape,
            p.n_probes,
            p.seed,
            target_dataset=self.knowledge.task,
            data_root=self.knowledge.data_root,
        )
        probs = torch.cat([target.probabilities(x[i : i + 1024]) for i in range(0, len(x), 1024)])
        k = target.num_classes
        wins = np.bincount(probs.argmax(1).numpy(), minlength=k)
        return ClassFeatures(
            np.stack([reach(probs.clamp_min(1e-30).log()).numpy(), -np.log1p(wins)], 1),
            ["reach", "rarity"],  # rarity: -log(1 + probes the class wins), a second reading
            np.ones(k, bool),
            queries=len(x),
            absolute=REACH_CUT,
            details={"probes": self.source, "winners": wins.tolist()},
        )

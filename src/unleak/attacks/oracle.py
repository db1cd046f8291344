"""``oracle``: per-class accuracy on labelled data of every class, forgotten ones included.

That data is forbidden to a real attacker (it gives the forgotten classes away at once), so this
is an upper bound, never an attack. Every labelled sample it classifies is a counted query.
"""

from __future__ import annotations

import numpy as np
import torch

from unleak.attacks.access import Access, Queries, Target
from unleak.attacks.base import Attack, AttackParams, register_attack
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.knowledge import Knowledge

ORACLE_CUT = 0.5  # a class the model gets wrong more than half of the time


class OracleParams(AttackParams):
    pass


@register_attack
class Oracle(Attack):
    name = "oracle"
    label = "oracle"
    requires = Access.QUERIES
    Params = OracleParams
    knows = needs = ("labelled_data",)
    default_decider = "threshold"
    spends_queries = True
    baseline = True
    description = "per-class error on labelled data of every class (forbidden data: an upper bound)"
    threat = "queries plus labelled test data of every class: forbidden data, an upper bound"

    def missing_knowledge(self, name: str) -> tuple[str, str]:
        return ("the oracle needs labelled data of every class", "pass labelled_data=")

    def setup(self, knowledge: Knowledge) -> None:
        self.labelled_data = knowledge.labelled_data

    def query_budget(self, default: int | None = None) -> int | None:
        return None  # a bound, not an attack: counted, never capped

    def features(self, target: Target) -> ClassFeatures:
        assert isinstance(target, Queries) and self.labelled_data is not None
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

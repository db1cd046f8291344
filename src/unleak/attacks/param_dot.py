"""``param-dot``: dot products between the target's head and auxiliary heads from retained data.

The attacker holds labelled samples of *some* retained classes (it knows they were kept) and no
sample of any forgotten class. It re-fits a head on the target's own features of that data: rows
of classes it holds data for learn positive evidence, the other rows only ever see negatives. A
forgotten class's row in the target looks like such a never-positive row; a retained class it has
no data for does not. The main score is the cosine between the target's row and the auxiliary
row, over the classes the attacker holds no data of (the candidates).

That is knowledge mode ``kept``. Under the modes that hold labelled samples of every class
(``labelled``, ``per-class``, ``public-init``) the attack reads the dot-product column of
:mod:`unleak.attacks.class_aux`; each mode has its own frozen rule (``RULES``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from unleak.attacks.access import Access, Target, Weights
from unleak.attacks.auxiliary import AuxCache, Basis, fit_head, model_key, network_head
from unleak.attacks.base import Attack, AttackParams, Rule, register_attack
from unleak.attacks.class_aux import mode_evidence
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.knowledge import DEFAULT_MODE, Knowledge
from unleak.data.core import Split
from unleak.errors import ConfigError

# chosen on the development population only (benchmarks/calibrate.py, docs/protocol.md)
RULE = Rule(reading="cos", decider="kmeans", constant=0.5, absolute=True)
COS_CUT = RULE.constant  # cosine
# the other knowledge modes' rules: k-means gaps chosen on knowledge-dev only
# (python -m benchmarks.knowledge select -> benchmarks/results/knowledge_rule.json)
RULES = {
    DEFAULT_MODE: RULE,
    "labelled": Rule(reading="dot", decider="kmeans", constant=1.0, absolute=False),
    "per-class": Rule(reading="dot", decider="kmeans", constant=1.5, absolute=False),
    "public-init": Rule(reading="dot", decider="kmeans", constant=1.0, absolute=False),
}


class ParamDotParams(AttackParams):
    recipe: Literal["head-refit", "finetune", "independent"] = "head-refit"
    n_aux: int = Field(3, ge=1, le=100, description="auxiliary heads, each on an 80% subsample")
    steps: int = Field(300, ge=1, le=100_000)
    lr: float = Field(0.1, gt=0)
    weight_decay: float = Field(1e-3, ge=0)
    net_epochs: float = Field(2.0, gt=0)
    net_lr: float = Field(0.01, gt=0)
    whiten: bool = False
    seed: int = 0
    cache: bool = True


@register_attack
class ParamDot(Attack):
    name = "param-dot"
    label = "p-dot"
    requires = Access.WEIGHTS
    Params = ParamDotParams
    rule = RULE
    rules = RULES  # one per knowledge mode
    knows = ("known_data", "mode", "public_init")
    needs = ("known_data",)
    description = "head dot products against auxiliary heads built from some retained classes"
    threat = "weights; labelled samples of some classes known to be kept (never a forgotten one)"
    params: ParamDotParams

    def missing_knowledge(self, name: str) -> tuple[str, str]:
        return (
            "param-dot needs labelled samples of some retained classes",
            "pass --known-classes with some classes you know were retained "
            "(in Python: Knowledge(known_data=...), see unleak.attacks.attacker_split)",
        )

    def setup(self, knowledge: Knowledge) -> None:
        self.attacker_data: Split = knowledge.known_data  # type: ignore[assignment]

    @property
    def known_classes(self) -> list[int]:
        return list(self.knowledge.known_classes)

    def features(self, target: Target) -> ClassFeatures:
        assert isinstance(target, Weights)
        p, data = self.params, self.attacker_data
        k = target.num_classes
        if data.num_classes != k or data.input_shape != target.input_shape:
            raise ConfigError(
                f"attacker data has {data.num_classes} classes of {data.input_shape}, the target "
                f"{k} of {target.input_shape}",
                "give samples of the target's own task",
            )
        model = target.model
        if self.knowledge.mode != DEFAULT_MODE:
            return mode_evidence(target, self.knowledge, main="dot", seed=p.seed, cache=p.cache)
        basis = Basis.of(model, data.x, p.whiten)
        w, _ = basis.rows(target.head.weight.detach(), target.head.bias.detach())
        cache = AuxCache(p.cache)
        key = {
            "attack": self.name,
            "model": model_key(model),
            "data": model_key({"x": data.x, "y": data.y}),
            **p.model_dump(exclude={"cache"}),
        }
        cos, dot = [], []
        for a in range(p.n_aux):
            gen = torch.Generator().manual_seed(p.seed * 1000 + a)
            idx = torch.randperm(len(data), generator=gen)[: max(2, int(0.8 * len(data)))]

            def build(idx: torch.Tensor = idx, a: int = a) -> tuple[torch.Tensor, torch.Tensor]:
                if p.recipe == "head-refit":
                    return fit_head(
                        basis.feats[idx],
                        data.y[idx],
                        k,
                        steps=p.steps,
                        lr=p.lr,
                        weight_decay=p.weight_decay,
                    )
                wa, ba = network_head(
                    p.recipe,
                    model,
                    data.take(idx),
                    epochs=p.net_epochs,
                    lr=p.net_lr,
                    seed=p.seed * 1000 + a,
                )
                return basis.rows(wa, ba)

            wa, _ = cache.head({**key, "aux": a}, build)
            cos.append(F.cosine_similarity(w, wa, dim=1))
            dot.append((w * wa).sum(1))
        c, d = torch.stack(cos), torch.stack(dot)
        candidates = np.ones(k, bool)
        candidates[self.known_classes] = False
        values = np.stack(
            [
                c.mean(0).numpy(),
                c.std(0).numpy() if p.n_aux > 1 else np.zeros(k),
                d.mean(0).numpy(),
            ],
            1,
        )
        return ClassFeatures(
            values=values,
            names=["cos", "cos_std", "dot"],
            candidates=candidates,
            details={"known_classes": self.known_classes, "recipe": p.recipe},
            absolute=COS_CUT,
        )


def attacker_split(
    train: Split,
    forgotten: tuple[int, ...] | list[int],
    *,
    fraction: float = 0.5,
    per_class: int = 100,
    seed: int = 0,
) -> Split:
    """The ``param-dot`` attacker's data: ``per_class`` samples of a ``fraction`` of the retained
    classes, chosen with ``seed``. No forgotten class can enter it."""
    retained = [c for c in range(train.num_classes) if c not in set(forgotten)]
    n = max(1, round(fraction * len(retained)))
    gen = torch.Generator().manual_seed(seed)
    chosen = sorted(retained[i] for i in torch.randperm(len(retained), generator=gen)[:n].tolist())
    split = train.per_class_sample(per_class, chosen, seed=seed)
    assert not set(torch.unique(split.y).tolist()) & set(forgotten)  # the plumbing's promise
    return split

"""``param-diff``: differences between the target's head and auxiliary heads from unrelated data.

The paper's parameter-difference attack. The attacker holds the target's weights and no sample of
the target task, only unrelated inputs (another data set, or generated noise, blur and strokes),
pushed through the target's own layers to its head. Auxiliary heads are re-fitted on those inputs
labelled with the target's own predictions (recipe ``head-refit``: plain SGD from the target's
head in its feature basis; or ``finetune``; or ``independent`` networks), and each class's row is
compared with the target's:

- ``diff = -log10 ||W_aux[c] - W[c]||`` ("the paper's reading", the main score): a forgotten
  class is never a pseudo-label, so its row receives almost no gradient and moves least;
- ``gain``: the logit gain each class needs for a uniform prediction over the unrelated inputs
  (the ``gain`` criterion reads it as the main score).

Both need the weights. (The probe score ``reach`` that used to be computed here reads outputs
only: it is the query attack ``probe-reach``.)

That is knowledge mode ``kept`` (the attacker holds no sample of the task). Under the modes that
hold labelled samples of every class (``labelled``, ``per-class``, ``public-init``) the attack
reads the difference column of :mod:`unleak.attacks.class_aux`, one frozen rule per mode.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from unleak.attacks.access import Access, Target, Weights
from unleak.attacks.auxiliary import AuxCache, Basis, Recipe, fit_head, model_key, network_head
from unleak.attacks.base import Attack, AttackParams, Rule, register_attack
from unleak.attacks.class_aux import mode_evidence
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.knowledge import DEFAULT_MODE, Knowledge
from unleak.attacks.unrelated import attacker_source, unrelated_inputs
from unleak.data.core import Split
from unleak.errors import ConfigError
from unleak.models.inference import predict_logits

# chosen on the development population only (benchmarks/calibrate.py, docs/protocol.md)
RULE = Rule(reading="diff", decider="kmeans", constant=0.5, absolute=False)
# the other knowledge modes' rules: k-means gaps chosen on knowledge-dev only
# (python -m benchmarks.knowledge select -> benchmarks/results/knowledge_rule.json)
RULES = {
    DEFAULT_MODE: RULE,
    "labelled": Rule(reading="diff", decider="kmeans", constant=2.0, absolute=False),
    "per-class": Rule(reading="diff", decider="kmeans", constant=2.0, absolute=False),
    "public-init": Rule(reading="diff", decider="kmeans", constant=1.0, absolute=False),
}


class ParamDiffParams(AttackParams):
    unrelated: str = Field("auto", description="data set name, npz:PATH, noise or blur")
    n_unrelated: int = Field(4000, ge=10, le=200_000)
    recipe: Literal["head-refit", "finetune", "independent"] = "head-refit"
    n_aux: int = Field(3, ge=1, le=100, description="auxiliary heads, each on an 80% subsample")
    steps: int = Field(10, ge=1, le=10_000, description="SGD steps of the head re-fit")
    lr: float = Field(0.1, gt=0)
    net_epochs: float = Field(1.0, gt=0, description="epochs of the finetune / independent recipes")
    net_lr: float = Field(0.01, gt=0)
    whiten: bool = False
    seed: int = 0
    cache: bool = True


@register_attack
class ParamDiff(Attack):
    name = "param-diff"
    label = "p-diff"
    requires = Access.WEIGHTS
    Params = ParamDiffParams
    knows = ("task", "data_root", "known_data", "mode", "public_init")
    criteria: ClassVar[dict[str, tuple[str, float | None]]] = {  # readings of the evidence
        "paper": ("diff", None),
        "gain": ("gain", None),
    }
    default_criterion = "paper"  # the reading of RULE
    rule = RULE
    rules = RULES  # one per knowledge mode
    description = "head differences against auxiliary heads built from unrelated data only"
    threat = "weights of the unlearned model; unrelated inputs only (no sample of the task)"
    params: ParamDiffParams

    recipes: ClassVar[tuple[str, ...]] = ("head-refit", "finetune", "independent")

    def setup(self, knowledge: Knowledge) -> None:
        if knowledge.mode == DEFAULT_MODE:  # no sample of the task: the labelled ones are dropped
            self.knowledge = Knowledge(
                task=knowledge.task,
                data_root=knowledge.data_root,
                seed=knowledge.seed,
                shadow=knowledge.shadow,
            )
        elif knowledge.known_data is None:
            raise ConfigError(
                f"param-diff in knowledge mode {knowledge.mode} needs labelled samples of every "
                "class",
                "give them (Knowledge(known_data=...)), or use knowledge mode kept",
            )
        self._source = attacker_source(
            self.params.unrelated, knowledge.task, bool(knowledge.shadow)
        )

    def source(self) -> str:
        return self._source

    def features(self, target: Target) -> ClassFeatures:
        assert isinstance(target, Weights)
        p = self.params
        model, k = target.model, target.num_classes
        if self.knowledge.mode != DEFAULT_MODE:
            return mode_evidence(target, self.knowledge, main="diff", seed=p.seed, cache=p.cache)
        x = unrelated_inputs(
            self.source(),
            target.input_shape,
            p.n_unrelated,
            p.seed,
            target_dataset=self.knowledge.task,
            data_root=self.knowledge.data_root,
        )
        logits = predict_logits(model, x)
        pseudo = logits.argmax(1)
        basis = Basis.of(model, x, p.whiten)
        w, b = basis.rows(target.head.weight.detach(), target.head.bias.detach())
        cache = AuxCache(p.cache)
        key = {
            "attack": self.name,
            "model": model_key(model),
            "dataset": self.knowledge.task,
            **p.model_dump(exclude={"cache"}),
        }
        uniform = torch.full((len(x), k), 1.0 / k)
        diffs, gains = [], []
        for a in range(p.n_aux):
            gen = torch.Generator().manual_seed(p.seed * 1000 + a)
            idx = torch.randperm(len(x), generator=gen)[: max(2, int(0.8 * len(x)))]
            wa, ba = cache.head(
                {**key, "aux": a},
                lambda idx=idx, a=a: self._aux(model, x, pseudo, basis, w, b, idx, a, p.recipe),
            )
            delta = torch.cat([wa - w, (ba - b)[:, None]], 1).norm(dim=1)
            diffs.append(-torch.log10(delta + 1e-12))
            wu, bu = fit_head(
                basis.feats[idx],
                uniform[idx],
                k,
                init=(w, b),
                steps=p.steps,
                lr=p.lr,
                weight_decay=0.0,
                optimizer="sgd",
            )
            gains.append((wu - w) @ basis.feats[idx].mean(0) + (bu - b))
        d, g = torch.stack(diffs), torch.stack(gains)
        values = np.stack(
            [
                d.mean(0).numpy(),
                d.std(0).numpy() if p.n_aux > 1 else np.zeros(k),
                g.mean(0).numpy(),
            ],
            1,
        )
        return ClassFeatures(
            values=values,
            names=["diff", "diff_std", "gain"],
            candidates=np.ones(k, bool),
            details={
                "unrelated": self.source(),
                "recipe": p.recipe,
                "pseudo_label_counts": np.bincount(pseudo.numpy(), minlength=k).tolist(),
            },
        )

    def _aux(self, model, x, pseudo, basis, w, b, idx, a, recipe: Recipe):  # type: ignore[no-untyped-def]
        p = self.params
        if recipe == "head-refit":
            return fit_head(
                basis.feats[idx],
                pseudo[idx],
                w.shape[0],
                init=(w, b),
                steps=p.steps,
                lr=p.lr,
                weight_decay=0.0,
                optimizer="sgd",
            )
        wa, ba = network_head(
            recipe,
            model,
            Split(x[idx], pseudo[idx], w.shape[0]),
            epochs=p.net_epochs,
            lr=p.net_lr,
            seed=p.seed * 1000 + a,
        )
        return basis.rows(wa, ba)

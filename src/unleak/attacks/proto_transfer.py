"""``proto-transfer``: the original's own class prototypes, answered by the unlearned model.

A baseline that needs the original. ``wb-inversion``'s search (:func:`~unleak.attacks.inversion.
invert`) ascends the *original* for every class, here in pixel space, and the
unlearned model answers those prototypes. Per class, ``drop`` is the original's mean confidence in
the class on its own prototypes less the unlearned model's; a class whose drop exceeds 0.5 (it lost
half its confidence on them) is named.

Why it exists: unlearning that changes each layer only along directions the retained data does not
span (``pgu``, ``unsc``) leaves the forgotten class reachable from every input the data-free attacks
try, so they and the verdict read nothing removed (docs/findings.md, the tenth test). The
original's prototypes of the class carry the class's own directions, and the unlearned model no
longer answers them. The cut 0.5 is the reading's midpoint, not chosen on any table; no development
population has measured this baseline yet, so it is never a voter of the verdict.

Every prototype the unlearned model answers is a counted query; the original is read white-box.
Seen once, off every population (an MNIST user LeNet of seed 0, two CPU threads): about 2 s a
model at 8 prototypes a class and 100 steps; it named class 3 after ``unsc`` and ``ng`` on {3},
classes 5 and 8 after ``unsc`` on {5, 8} (drops 0.60 and 0.85), and nothing on the original or
on eight of its default null models (largest drop 0.14, a fine-tune at rate 0.03).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from unleak.attacks.access import Access, Gradients, Target
from unleak.attacks.base import Attack, AttackParams, register_attack
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.inversion import InversionParams, invert
from unleak.errors import ConfigError

DROP_CUT = 0.5  # the class lost half its confidence on the original's prototypes of it


class ProtoTransferParams(AttackParams):
    steps: int = Field(100, ge=1, le=100_000, description="ascent steps on the original")
    lr: float = Field(0.1, gt=0)
    restarts: int = Field(8, ge=1, le=256, description="prototypes a class")
    grid: int | None = Field(
        None, ge=1, le=512, description="optimise a coarse grid (upsampled); None = pixels"
    )
    seed: int = 0


@register_attack
class ProtoTransfer(Attack):
    name = "proto-transfer"
    label = "proto"
    requires = Access.GRADIENTS  # the original's input gradients; the target is only queried
    Params = ProtoTransferParams
    default_decider = "threshold"
    needs_original = True
    spends_queries = True
    baseline = True
    description = "the original's class prototypes, answered by the unlearned model (needs it)"
    threat = (
        "input gradients of the original and queries to the unlearned model; no data; a "
        "baseline, never a voter"
    )
    params: ProtoTransferParams

    def query_budget(self, default: int | None = None) -> int | None:
        return None  # one answer per prototype: no search to budget

    def features(self, target: Target) -> ClassFeatures:
        raise ConfigError(
            "proto-transfer needs the original model as well",
            "pass the original (--original) or pick another attack",
        )

    def evidence(self, target: Target, original: Target | None = None) -> ClassFeatures:
        """The original's prototypes (ascended on it), answered by both models."""
        target.require(Access.QUERIES, self.name)
        if original is None:
            return self.features(target)
        original.require(self.requires, self.name)
        assert isinstance(original, Gradients)
        p = self.params
        search = InversionParams(
            steps=p.steps, lr=p.lr, restarts=p.restarts, grid=p.grid, seed=p.seed
        )
        x, labels, _ = invert(original, search)
        k, r = original.num_classes, p.restarts

        def confidence(model: Target) -> np.ndarray:
            chunks = [model.probabilities(x[i : i + 1024]) for i in range(0, len(x), 1024)]
            probs = torch.cat(chunks)
            return probs[torch.arange(k * r), labels].view(k, r).mean(1).numpy()

        before, after = confidence(original), confidence(target)
        return ClassFeatures(
            np.stack([before - after, after], 1),
            ["drop", "confidence"],
            np.ones(k, bool),
            queries=len(x),
            absolute=DROP_CUT,
            details={"original_confidence": before.round(4).tolist()},
        )

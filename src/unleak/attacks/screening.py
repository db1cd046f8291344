"""Screening of per-class prototypes, shared by ``wb-inversion`` and ``bb-genetic``.

Both attacks end with one best prototype per class and its probability profile. A class whose best
prototype the model still will not assign to it is a forgotten-class candidate. Two criteria read
that profile (the main score of the evidence):

- ``threshold``: the log-odds deficit of the class's own probability, in nats
  (``max(0, -log(p_c / (1 - p_c)))``), a fixed scale with the cut ``DEFICIT_CUT``;
- ``entropy``: the entropy of the profile, in nats: a prototype the model cannot classify
  confidently is spread over many classes (cut ``ENTROPY_CUT``);
- ``confidence``: the log-odds the class's own probability lacks to reach ``CONFIDENT`` (0.9),
  in nats (``max(0, log(9) - log(p_c / (1 - p_c)))``): a kept class is driven to high confidence
  within the budget; a class that was only weakly suppressed (unlearning stopped at chance) is
  still reached above 0.27 (``deficit`` 0) but not to 0.9 (cut ``CONFIDENCE_CUT``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from unleak.attacks.base import Rule
from unleak.attacks.evidence import ClassFeatures

# cuts, fixed on the development population (docs/protocol.md, benchmarks/calibrate.py)
DEFICIT_CUT = 1.0  # nats of log-odds: the best prototype stays below p = 0.27
ENTROPY_CUT = 0.5  # nats
CONFIDENT = 0.9  # the confidence a kept class's prototype reaches within the budget
CONFIDENCE_CUT = 1.0  # nats short of CONFIDENT

CRITERIA: dict[str, tuple[str, float | None]] = {
    "threshold": ("deficit", DEFICIT_CUT),
    "entropy": ("entropy", ENTROPY_CUT),
    "confidence": ("confidence", CONFIDENCE_CUT),
}


def criteria_for(rule: Rule) -> tuple[dict[str, tuple[str, float | None]], str]:
    """The criteria with the frozen rule's cut on its reading, and the criterion it names."""
    criteria = {
        name: (main, rule.constant if main == rule.reading else cut)
        for name, (main, cut) in CRITERIA.items()
    }
    return criteria, next(name for name, (main, _) in criteria.items() if main == rule.reading)


def log_odds(probs: torch.Tensor) -> torch.Tensor:
    p = probs.double().clamp(1e-15, 1 - 1e-15)
    return (p.log() - torch.log1p(-p)).float()


def entropy(probs: torch.Tensor) -> torch.Tensor:
    p = probs.clamp_min(1e-12)
    return -(p * p.log()).sum(-1)


def screening_features(
    probs: torch.Tensor,
    criterion: str,
    extra: dict[str, np.ndarray],
    queries: int,
    details: dict[str, Any],
    criteria: dict[str, tuple[str, float | None]] = CRITERIA,
) -> ClassFeatures:
    """Features of per-class prototypes' final probability profiles (``probs[c]``: K vector)."""
    k = probs.shape[0]
    own = probs[torch.arange(k), torch.arange(k)]
    deficit = (-log_odds(own)).clamp_min(0).numpy()
    target = math.log(CONFIDENT / (1 - CONFIDENT))
    confidence = (target - log_odds(own)).clamp_min(0).numpy()
    ent = entropy(probs).numpy()
    cols = {"deficit": deficit, "entropy": ent, "confidence": confidence, **extra}
    names = list(cols)
    main, cut = criteria[criterion]
    return ClassFeatures(
        values=np.stack([cols[n] for n in names], 1),
        names=names,
        candidates=np.ones(k, bool),
        main=names.index(main),
        queries=queries,
        details=details,
        absolute=cut,
    )

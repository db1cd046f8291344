"""Label-leakage attacks: which classes did an unlearned model forget?

>>> target = unleak.attacks.Weights(unlearned)
>>> attack = unleak.attacks.build("param-diff", decider="kmeans", unrelated="fashion-mnist")
>>> result = attack.run(target)
>>> result.predicted, result.scores
"""

from unleak.attacks.access import Access, Gradients, Queries, Target, Weights
from unleak.attacks.base import (
    Attack,
    AttackResult,
    ClassFeatures,
    attack_class,
    attack_names,
    build,
    register_attack,
)
from unleak.attacks.baselines import BeforeAfter, Chance, Oracle
from unleak.attacks.deciders import Calibration, make_decider
from unleak.attacks.genetic import BlackBoxGenetic
from unleak.attacks.inversion import WhiteBoxInversion
from unleak.attacks.param_diff import ParamDiff
from unleak.attacks.param_dot import ParamDot, attacker_split
from unleak.attacks.shadow import shadow_calibration

__all__ = [
    "Access",
    "Attack",
    "AttackResult",
    "BeforeAfter",
    "BlackBoxGenetic",
    "Calibration",
    "Chance",
    "ClassFeatures",
    "Gradients",
    "Oracle",
    "ParamDiff",
    "ParamDot",
    "Queries",
    "Target",
    "Weights",
    "WhiteBoxInversion",
    "attack_class",
    "attack_names",
    "attacker_split",
    "build",
    "make_decider",
    "register_attack",
    "shadow_calibration",
]

"""Label-leakage attacks: which classes did an unlearned model forget?

>>> target = unleak.attacks.Weights(unlearned)
>>> attack = unleak.attacks.build("param-diff", decider="kmeans")
>>> result = attack.run(target)
>>> result.predicted, result.scores

Each attack is one module, registered by name; importing this package registers them all.
"""

from unleak.attacks.access import DEFAULT_QUERY_BUDGET, Access, Gradients, Queries, Target, Weights
from unleak.attacks.base import (
    Attack,
    AttackParams,
    AttackResult,
    attack_class,
    attack_names,
    build,
    register_attack,
)
from unleak.attacks.before_after import BeforeAfter
from unleak.attacks.chance import Chance
from unleak.attacks.deciders import Calibration, Decider, make_decider
from unleak.attacks.evidence import ClassFeatures
from unleak.attacks.genetic import BlackBoxGenetic
from unleak.attacks.inversion import WhiteBoxInversion
from unleak.attacks.knowledge import MODES, Knowledge, PublicInit
from unleak.attacks.oracle import Oracle
from unleak.attacks.param_diff import ParamDiff
from unleak.attacks.param_dot import ParamDot, attacker_split
from unleak.attacks.probe_reach import ProbeReach
from unleak.attacks.proto_transfer import ProtoTransfer

__all__ = [
    "DEFAULT_QUERY_BUDGET",
    "MODES",
    "Access",
    "Attack",
    "AttackParams",
    "AttackResult",
    "BeforeAfter",
    "BlackBoxGenetic",
    "Calibration",
    "Chance",
    "ClassFeatures",
    "Decider",
    "Gradients",
    "Knowledge",
    "Oracle",
    "ParamDiff",
    "ParamDot",
    "ProbeReach",
    "ProtoTransfer",
    "PublicInit",
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
]

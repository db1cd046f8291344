"""The verdict's rule: how it combines the attacks, and the one frozen rule every audit reads.

:class:`VerdictRule` holds a candidate (``benchmarks/verdict.py`` replays many on the
development populations); :data:`RULE` is the one chosen there (docs/protocol.md), frozen here
and checked against ``benchmarks/results/verdict_rule.json`` by ``tests/test_protocol.py``. How a
rule is read is :mod:`unleak.evaluation.verdict`'s docstring.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from unleak.evaluation.stacking import Stack, Trees, score_from_dict

Z_VOTES = ("z", "zrel", "namedz")
# Per attack, the feature a "z" vote calibrates on your nulls: higher = the class is harder to
# reach (rarer among probes, more inversion steps, a less sure genetic search, a larger gain).
CALIBRATED = {
    "probe-reach": "rarity",
    "wb-inversion": "steps_to_90",
    "bb-genetic": "entropy",
    "param-diff": "gain",
}


@dataclass(frozen=True)
class VerdictRule:
    """How the verdict combines the attacks (see the module docstring)."""

    voters: tuple[str, ...]
    votes: int
    max_fpr: float
    vote_by: str  # "named", "beyond", "z", "zrel", "namedz" or "stacked"
    z_cut: float  # for the z votes; for "stacked", the probability cut
    damaged_feature: str  # "ATTACK:FEATURE", higher = the class is weaker
    damaged_z: float
    rel_cut: float = 0.0  # for vote_by "zrel"
    stack: Stack | Trees | None = None  # for vote_by "stacked"
    # the model is wrecked when this share of its K classes is removed or damaged ("hurt"), or
    # when its removal scores sum to this share of K ("mass"); "" never calls it
    wrecked_by: str = ""
    wrecked_cut: float = math.inf

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VerdictRule:
        """The rule from its JSON form (``dataclasses.asdict`` of it)."""
        stack = d.get("stack")
        if stack is not None:
            stack = score_from_dict(stack)
        return cls(**{**d, "voters": tuple(d["voters"]), "stack": stack})

    def describe(self) -> str:
        damaged = (
            f"damaged: {self.damaged_feature} at least {self.damaged_z:g} null standard "
            "deviations out"
        )
        if self.wrecked_by:
            what = {"hurt": "removed or damaged", "mass": "of removal score"}[self.wrecked_by]
            damaged += f"; wrecked: at least {100 * self.wrecked_cut:.0f}% of the classes {what}"
        if self.vote_by == "stacked" and self.stack is not None:
            return f"removed: {self.stack.describe(self.z_cut)}; {damaged}"
        out = f"at least {self.z_cut:g} null standard deviations out (each class calibrated)"
        how = {
            "named": "named by",
            "beyond": "named, above every null model's score for the class, by",
            "z": f"{out} for",
            "zrel": f"{out}, and {self.rel_cut:g} robust deviations above the model's other "
            "classes, for",
            "namedz": f"named and {out}, by",
        }[self.vote_by]
        heard = (
            ""
            if self.max_fpr >= 1
            else (
                f"; an attack votes when it flags at most {100 * self.max_fpr:.0f}% of your nulls"
            )
        )
        return f"removed: {how} at least {self.votes} of {', '.join(self.voters)}{heard}; {damaged}"


# Frozen from benchmarks/results/verdict_rule.json (python -m benchmarks.verdict select, on
# verdict-dev to verdict-dev12 only; frozen by tools/freeze_verdict_rule.py);
# tests/test_protocol.py checks they agree.
def _frozen_trees() -> Trees:
    """The boosted trees of the chosen score, shipped beside this file."""
    text = resources.files("unleak.evaluation").joinpath("verdict_trees.json")
    return score_from_dict(json.loads(text.read_text(encoding="utf-8")))


RULE = VerdictRule(
    voters=("probe-reach", "wb-inversion", "bb-genetic", "param-diff"),
    votes=1,
    max_fpr=1.0,
    vote_by="stacked",
    z_cut=0.3,
    damaged_feature="probe-reach:rarity",
    damaged_z=4.0,
    rel_cut=0.0,
    wrecked_by="hurt",
    wrecked_cut=0.6,
    stack=_frozen_trees(),
)

"""``before-after``: probing in the style of Hu et al. (S&P 2024); it needs the original model.

The attacker queries the original and the unlearned model on the same probe inputs (generated:
noise, blur, strokes) and names the classes that became hard to reach: ``probe-reach`` on the
unlearned model minus ``probe-reach`` on the original. Every probe is a counted query, on each
model.
"""

from __future__ import annotations

from pydantic import Field

from unleak.attacks.base import AttackParams, register_attack
from unleak.attacks.probe_reach import ProbeReach


class BeforeAfterParams(AttackParams):
    probes: str = Field("noise+blur+strokes", description="probe inputs (generated or a data set)")
    n_probes: int = Field(1000, ge=1, le=100_000)
    seed: int = 0


@register_attack
class BeforeAfter(ProbeReach):
    name = "before-after"
    label = "b/a"
    Params = BeforeAfterParams
    default_decider = "threshold"
    rule = None  # a baseline: its fixed cut is probe-reach's, never calibrated on its own
    needs_original = True
    baseline = True
    description = "probe the original and the unlearned model; the largest confidence drops"
    threat = "queries to the original and the unlearned model; generated probe inputs"
    params: BeforeAfterParams  # type: ignore[assignment]

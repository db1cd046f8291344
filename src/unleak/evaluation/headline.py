"""What one audit found, in one sentence and one row per attack.

A single audit attacks each model once per attack, so an ASR "per method" rests on n = 1. What it
can support is a tally per attack: on how many of the unlearned models it named exactly the
forgotten set (beside chance), and on how many null models (nothing forgotten) it named a class
anyway, each with its 95% Wilson interval. :func:`headline` turns the tallies into the sentence a
report and the terminal open with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from unleak import catalog
from unleak.attacks import attack_class
from unleak.evaluation.metrics import wilson
from unleak.evaluation.results import ResultRow


@dataclass(frozen=True)
class AttackTally:
    """One attack reading over an audit's models: exact-set hits and false alarms."""

    label: str
    access: str
    hits: int
    models: int  # unlearned models it ran on
    chance: float  # mean chance of an exact guess over those models
    false_alarms: int
    nulls: int  # null models it ran on
    forget_acc: float  # mean forget accuracy of the unlearned models it attacked

    @property
    def asr(self) -> float:
        return self.hits / self.models if self.models else math.nan

    @property
    def asr_ci(self) -> tuple[float, float]:
        return wilson(self.hits, self.models)

    @property
    def fpr(self) -> float:
        return self.false_alarms / self.nulls if self.nulls else math.nan

    @property
    def fpr_ci(self) -> tuple[float, float]:
        return wilson(self.false_alarms, self.nulls)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.label,
            "access": self.access,
            "hits": self.hits,
            "models": self.models,
            "asr": self.asr,
            "asr_95": list(self.asr_ci),
            "chance": self.chance,
            "false_alarms": self.false_alarms,
            "nulls": self.nulls,
            "fpr": self.fpr,
            "fpr_95": list(self.fpr_ci),
            "forget_acc": self.forget_acc,
        }


def _attack_rows(rows: Sequence[ResultRow]) -> list[ResultRow]:
    """Undefended rows of real attacks (baselines are references, defences reported apart)."""
    return [
        r
        for r in rows
        if r.attack and not r.defence and r.error is None and not attack_class(r.attack).baseline
    ]


def tally(rows: Sequence[ResultRow]) -> list[AttackTally]:
    """One :class:`AttackTally` per attack reading, in the order the audit ran them."""
    mine = _attack_rows(rows)
    out = []
    for label in dict.fromkeys(r.label for r in mine):
        runs = [r for r in mine if r.label == label]
        # a model whose forget set nobody told unleak has no hit to count
        unlearned = [r for r in runs if r.kind != "null" and r.forget]
        nulls = [r for r in runs if r.kind == "null"]
        accs = [r.forget_acc for r in unlearned if math.isfinite(r.forget_acc)]
        chances = [r.chance for r in unlearned if math.isfinite(r.chance)]
        out.append(
            AttackTally(
                label=label,
                access=runs[0].access,
                hits=sum(r.hit for r in unlearned),
                models=len(unlearned),
                chance=sum(chances) / len(chances) if chances else math.nan,
                false_alarms=sum(r.predicted_any for r in nulls),
                nulls=len(nulls),
                forget_acc=sum(accs) / len(accs) if accs else math.nan,
            )
        )
    return out


def headline(
    rows: Sequence[ResultRow],
    forget: Sequence[int],
    names: Sequence[str] = (),
    short: Callable[[str], str] | None = None,
) -> str:
    """One sentence: per unlearned model how many attacks named exactly ``forget``, overall,
    and the null models' false alarms (``short`` shortens attack labels)."""
    short = short or catalog.short_label
    mine = _attack_rows(rows)
    labels = list(dict.fromkeys(r.label for r in mine))
    if not labels:
        return "no attack ran: nothing was measured"
    what = ", ".join(
        f"{c} ({names[c]})" if c < len(names) and names[c] != str(c) else str(c) for c in forget
    )
    subject = f"Forgotten class{'es' if len(forget) > 1 else ''} {what}"
    models = list(dict.fromkeys(r.method for r in mine if r.kind != "null"))
    per = {m: sum(r.hit for r in mine if r.kind != "null" and r.method == m) for m in models}
    counts = ", ".join(f"{m} {k}" for m, k in per.items())
    a = len(labels)
    leaking = [m for m, k in per.items() if k]
    if not models:
        found = "no unlearned model was attacked"
    elif len(leaking) == len(models):
        found = (
            f"every method ({len(models)} of {len(models)}) gives it away to at least "
            f"{min(per.values())} of {a} attacks ({counts})"
        )
    elif leaking:
        quiet = ", ".join(m for m in models if not per[m])
        found = (
            f"{len(leaking)} of {len(models)} methods give it away ({counts}); no attack named "
            f"exactly that set on {quiet}"
        )
    else:
        found = f"no attack named exactly that set on any of the {len(models)} methods"
    nulls = list(dict.fromkeys(r.method for r in mine if r.kind == "null"))
    if not nulls:
        alarms = "no null model was attacked, so false alarms are unmeasured"
    else:
        flagged = [r for r in mine if r.kind == "null" and r.predicted]
        readings = sum(r.kind == "null" for r in mine)
        where = ", ".join(f"{short(r.label)} on {r.method}" for r in flagged)
        alarms = (
            f"{len(flagged)} false alarm{'s' if len(flagged) != 1 else ''} in {readings} "
            f"readings of {len(nulls)} null model{'s' if len(nulls) != 1 else ''}"
            + (f" ({where})" if where else "")
        )
    return f"{subject}: {found}; {alarms}."

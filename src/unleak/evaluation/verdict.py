"""The verdict of an audit of your own models: per unlearned model, which classes leak.

A class leaks when at least one attack names it and that attack named nothing on any null model
made from your original (its measured false-positive rate is 0 of n). Classes named only by
attacks that also flagged null models are "suspected": the attack flags models like yours that
forgot nothing, so its word alone is weak. With no null model (no original given) nothing can be
measured: named classes are listed with the false-positive rate marked unmeasured.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from unleak.attacks import attack_class
from unleak.evaluation.metrics import wilson
from unleak.evaluation.results import ResultRow, Results


@dataclass
class Naming:
    """One attack naming one class, with that attack's measured false-positive rate."""

    attack: str  # the result label, e.g. probe-reach/kmeans
    access: str
    queries: int
    fpr: float  # NaN when no null model was attacked
    fpr_n: int
    fpr_hi: float  # upper end of its 95% interval

    @property
    def clean(self) -> bool:
        """It named nothing on any null model (and there was at least one)."""
        return self.fpr_n > 0 and self.fpr == 0.0


@dataclass
class Verdict:
    """Per model: the leaked classes (clean evidence), suspected ones, and what was tried."""

    model: str
    leaked: list[int] = field(default_factory=list)
    suspected: list[int] = field(default_factory=list)
    classes: dict[int, list[Naming]] = field(default_factory=dict)
    tried: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # attack -> error
    nulls: int = 0

    def sentence(
        self, names: list[str] | None = None, short: Callable[[str], str] | None = None
    ) -> str:
        """One line a person reads first (``short`` shortens attack labels)."""

        def name(c: int) -> str:
            label = names[c] if names and c < len(names) else str(c)
            return str(c) if label == str(c) else f"{c} ({label})"

        def who(namings: list[Naming]) -> str:
            labels = ", ".join((short or str)(n.attack) for n in namings)
            bounds = {(n.fpr_n, round(n.fpr_hi, 2)) for n in namings}
            if len(bounds) == 1:
                n = namings[0]
                return f"{labels} (each FPR 0/{n.fpr_n} on your nulls, <= {100 * n.fpr_hi:.0f}%)"
            return ", ".join(
                f"{(short or str)(n.attack)} (FPR 0/{n.fpr_n}, <= {100 * n.fpr_hi:.0f}%)"
                for n in namings
            )

        if self.leaked:
            parts = [
                f"class {name(c)} by {who([n for n in self.classes[c] if n.clean])}"
                for c in self.leaked
            ]
            extra = (
                f"; suspected: {', '.join(name(c) for c in self.suspected)}"
                if self.suspected
                else ""
            )
            return f"LEAKS: {'; '.join(parts)}{extra}"
        if self.suspected:
            return (
                f"no clean leak; suspected: {', '.join(name(c) for c in self.suspected)} (named "
                "only by attacks that also flag null models like yours)"
            )
        tried = ", ".join((short or str)(t) for t in self.tried)
        return (
            f"no leak found by {len(self.tried)} attack readings ({tried}) on {self.nulls} "
            "null model(s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "leaked": self.leaked,
            "suspected": self.suspected,
            "classes": {
                str(c): [{**asdict(n), "clean": n.clean} for n in names]
                for c, names in sorted(self.classes.items())
            },
            "tried": self.tried,
            "failed": self.failed,
            "null_models": self.nulls,
        }


def verdicts(rows: Results, audited_kind: str = "audited") -> dict[str, Verdict]:
    """A :class:`Verdict` per audited model (rows of kind ``audited``), from the same attacks'
    rows on null models."""
    nulls: dict[tuple[str, str], list[ResultRow]] = {}
    for r in rows:
        if r.kind == "null" and r.attack and r.error is None:
            nulls.setdefault((r.defence, r.label), []).append(r)
    null_models = len({(r.method, r.defence) for r in rows if r.kind == "null"})
    out: dict[str, Verdict] = {}
    for r in rows:
        if r.kind != audited_kind or not r.attack:
            continue
        if attack_class(r.attack).baseline:  # chance, oracle, before-after: references only
            continue
        v = out.setdefault(r.method, Verdict(r.method, nulls=null_models))
        if r.error is not None:
            v.failed[r.label] = r.error
            continue
        if r.label not in v.tried:
            v.tried.append(r.label)
        ref = nulls.get((r.defence, r.label), [])
        fp = sum(x.predicted_any for x in ref)
        fpr = fp / len(ref) if ref else math.nan
        hi = wilson(fp, len(ref))[1] if ref else math.nan
        for c in r.predicted:
            v.classes.setdefault(c, []).append(
                Naming(r.label, r.access, r.queries, fpr, len(ref), hi)
            )
    for v in out.values():
        v.leaked = sorted(c for c, ns in v.classes.items() if any(n.clean for n in ns))
        v.suspected = sorted(c for c in v.classes if c not in v.leaked)
        if v.nulls == 0:  # nothing measured: every named class is only suspected
            v.suspected, v.leaked = sorted(v.classes), []
    return out

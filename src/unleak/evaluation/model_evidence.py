"""Every attack's answer on one audited model, and its features read against null models.

The verdict (:mod:`unleak.evaluation.verdict`) and its stacked score
(:mod:`unleak.evaluation.stacking`) both read an attack's per-class features in units of the null
models' spread: :func:`null_z`. A model's evidence comes from its stored result rows:
:func:`evidence_of`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from unleak.attacks import attack_class
from unleak.evaluation.results import ResultRow


@dataclass
class Answer:
    """One attack reading's answer on one model."""

    attack: str  # the attack's name, e.g. probe-reach
    label: str  # the reading, e.g. probe-reach/gap
    access: str
    named: list[int]
    scores: list[float]  # per class (NaN: not a candidate)
    features: dict[str, list[float]]


@dataclass
class Evidence:
    """Every attack's answer on one model."""

    model: str
    defence: str = ""
    answers: dict[str, Answer] = field(default_factory=dict)  # by label
    failed: dict[str, str] = field(default_factory=dict)


def evidence_of(
    rows: Iterable[ResultRow], kind: str, *, baselines: bool = False
) -> dict[str, Evidence]:
    """Every attack's answer per model of ``kind`` (baselines are references, not answers,
    unless ``baselines``: a benchmark that measures one reads its answers the same way)."""
    out: dict[str, Evidence] = {}
    for r in rows:
        if r.kind != kind or not r.attack or (attack_class(r.attack).baseline and not baselines):
            continue
        key = r.method if not r.defence else f"{r.method}+{r.defence}"
        ev = out.setdefault(key, Evidence(r.method, r.defence))
        if r.error is not None:
            ev.failed[r.label] = r.error
            continue
        scores = [math.nan if s is None else float(s) for s in r.scores]
        ev.answers[r.label] = Answer(
            r.attack, r.label, r.access, sorted(r.predicted), scores, dict(r.features)
        )
    return out


def feature(ev: Evidence, spec: str) -> np.ndarray | None:
    """``ATTACK:FEATURE`` of ``ev`` per class (None: that attack did not measure it)."""
    attack, _, name = spec.partition(":")
    for a in ev.answers.values():
        if a.attack == attack and name in a.features:
            return np.asarray(a.features[name], dtype=float)
    return None


def null_z(target: Evidence, nulls: list[Evidence], spec: str) -> np.ndarray | None:
    """``ATTACK:FEATURE`` of ``target`` per class, in pooled standard deviations of the null
    models from their mean for that class (None: not measured, or fewer than 2 nulls)."""
    mine = feature(target, spec)
    ref = (
        [f for f in (feature(e, spec) for e in nulls) if f is not None and f.shape == mine.shape]
        if mine is not None
        else []
    )
    if mine is None or len(ref) < 2:
        return None
    table = np.stack(ref)
    spread = math.sqrt(float(table.var(axis=0, ddof=1).mean())) or 1e-12
    return (mine - table.mean(axis=0)) / spread

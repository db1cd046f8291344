"""The verdict of an audit of your own models: per class, removed, damaged or intact.

Every attack answers, on your model and on null models made from your original, with a set of
classes and per-class features; one frozen :class:`VerdictRule` (chosen on development, reported
held out: docs/protocol.md, ``benchmarks/verdict.py``) combines them per class. Rules it can say:

- a *voter* is an attack of ``rule.voters`` that flags at most ``rule.max_fpr`` of your nulls;
- how a voter votes for class c, by ``rule.vote_by``: ``named``, it names c at its own frozen
  rule; ``beyond``, it names c and its score for c is above its score for c on every null model;
  ``z``, its calibrated feature for c (:data:`CALIBRATED`, higher = the class is harder to reach)
  stands at least ``rule.z_cut`` pooled null standard deviations above the nulls' mean for c
  (your nulls calibrate each class; the attack's own cut is not used); ``zrel``, that, and c's
  null z also stands ``rule.rel_cut`` robust deviations above the model's other classes' (a
  method that moves the whole model puts every class far from the nulls); ``namedz``, the
  attack names c at its frozen rule and c's null z is at least ``rule.z_cut``;
- c is **removed** when at least ``rule.votes`` voters vote for it: the verdict's forgotten set;
  for ``stacked``, when ``rule.stack``'s probability (:mod:`unleak.evaluation.stacking`: a
  logistic model over every voter's per-class features against your nulls, its share of false
  alarms among them) is at least ``rule.z_cut``; ``votes`` then lists who named the class;
- c is **damaged** when not removed but ``rule.damaged_feature`` (higher = weaker) stands
  ``rule.damaged_z`` pooled null SDs above its null mean for c; every other class is **intact**;
- the model is **wrecked** when ``rule.wrecked_by`` reads more than a forget set gone: at least
  ``rule.wrecked_cut`` of its classes removed or damaged (``hurt``), or removal scores summing to
  that share of its classes (``mass``). Unlearning that ruins the retained classes leaves
  nothing that tells the requested classes from the collateral damage; the verdict says so
  instead of presenting its removed set as the forget set.

With labelled test data a verdict also carries each class's test accuracy beside the
original's, ``hurt`` (classes that lost 10 points or more): the labelled check of ``damaged``,
and ``kept_accuracy`` (classes called removed that did not): the labelled check of ``removed``.
The verdict's own false-alarm rate: each null judged as if it were the unlearned model, with the
others as its nulls (leave one out).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from unleak.attacks.deciders import robust_z
from unleak.evaluation.metrics import wilson
from unleak.evaluation.model_evidence import Answer, Evidence, evidence_of, null_z
from unleak.evaluation.results import Results
from unleak.evaluation.stacking import caveat
from unleak.evaluation.verdict_rule import CALIBRATED, RULE, Z_VOTES, VerdictRule

__all__ = ["RULE", "Answer", "Evidence", "Verdict", "VerdictRule", "evidence_of", "judge"]

REMOVED, DAMAGED, INTACT = "removed", "damaged", "intact"
DAMAGE_DROP = 0.10  # the labelled check: a class lost this much test accuracy from the original
WRECK_SHARE = 0.5  # the labelled check of wrecked: retained accuracy under half the original's


@dataclass
class Voter:
    """An attack and what it did on your null models."""

    attack: str
    false_alarms: int
    nulls: int
    votes: bool  # heard (false alarms within the rule's bound)

    @property
    def fpr_hi(self) -> float:
        return wilson(self.false_alarms, self.nulls)[1] if self.nulls else math.nan


@dataclass
class Verdict:
    """Per model: each class removed, damaged or intact; the verdict's false-alarm rate on your
    null models; every attack's answer beside it."""

    model: str
    removed: list[int] = field(default_factory=list)
    damaged: list[int] = field(default_factory=list)
    classes: int = 0  # K: status covers classes 0..K-1
    votes: dict[int, list[str]] = field(default_factory=dict)  # class -> attacks voting for it
    answers: dict[str, list[int]] = field(default_factory=dict)  # reading -> classes it named
    voters: list[Voter] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # reading -> error
    nulls: int = 0
    false_alarms: int = 0  # null models it named a class of or called wrecked (leave one out)
    judged_nulls: int = 0
    rule: str = ""
    accuracy: list[float] = field(default_factory=list)  # per class, on your labelled test data
    original_accuracy: list[float] = field(default_factory=list)
    probability: list[float] = field(default_factory=list)  # per class, for a stacked rule
    caveat: str = ""  # the stacked score read far from how it was fitted
    wrecked: bool = False  # so much is removed or damaged that no forget set can be read
    requested: list[int] = field(default_factory=list)  # the forget set you named, if you did

    @property
    def unmet(self) -> list[int]:
        """Classes you asked to forget that the verdict does not read as removed: the model may
        still hold them (nothing that reads the model tells a kept class from an intact one)."""
        return [c for c in self.requested if c not in self.removed]

    @property
    def fpr(self) -> float:
        return self.false_alarms / self.judged_nulls if self.judged_nulls else math.nan

    @property
    def fpr_hi(self) -> float:
        return wilson(self.false_alarms, self.judged_nulls)[1] if self.judged_nulls else math.nan

    @property
    def status(self) -> dict[int, str]:
        """Per class: removed, damaged or intact."""
        return {
            c: REMOVED if c in self.removed else DAMAGED if c in self.damaged else INTACT
            for c in range(self.classes)
        }

    @property
    def hurt(self) -> list[int]:
        """Classes not removed whose test accuracy fell by DAMAGE_DROP or more from the
        original's (the labelled check of ``damaged``; empty without labels)."""
        return sorted(hurt_classes(self.accuracy, self.original_accuracy, self.removed))

    @property
    def kept_accuracy(self) -> list[int]:
        """Classes called removed whose test accuracy fell by less than DAMAGE_DROP from the
        original's: your labels contradict the call (empty without labels)."""
        acc, was = self.accuracy, self.original_accuracy
        if not acc or len(acc) != len(was):
            return []
        return [c for c in self.removed if was[c] - acc[c] < DAMAGE_DROP]

    @property
    def weakened(self) -> list[int]:
        """Classes removed or damaged: what the wrecked reading ``hurt`` counts."""
        return sorted(set(self.removed) | set(self.damaged))

    @property
    def alarm(self) -> bool:
        """Whether the verdict says anything happened (a class removed, or the model wrecked):
        on a null model, a false alarm."""
        return bool(self.removed) or self.wrecked

    @property
    def measured(self) -> bool:
        return self.judged_nulls > 0

    def fpr_text(self) -> str:
        if not self.measured:
            return "false-alarm rate not measured (no null models: give your original)"
        return (
            f"verdict's false alarms {self.false_alarms}/{self.judged_nulls} on your null "
            f"models (<= {100 * self.fpr_hi:.0f}%, 95%)"
        )

    def sentence(
        self, names: list[str] | None = None, short: Callable[[str], str] | None = None
    ) -> str:
        """One line a person reads first (``short`` shortens attack labels)."""

        def name(c: int) -> str:
            label = names[c] if names and c < len(names) else str(c)
            return str(c) if label == str(c) else f"{c} ({label})"

        def by(c: int) -> str:
            return ", ".join((short or str)(a) for a in self.votes.get(c, []))

        def why(c: int) -> str:
            if self.probability:  # a stacked rule: its score, and who named the class
                named = f"; named by {by(c)}" if self.votes.get(c) else ""
                return f"score {self.probability[c]:.2f}{named}"
            return f"{len(self.votes.get(c, []))} of {heard} voters: {by(c)}"

        heard = sum(v.votes for v in self.voters)
        if self.wrecked:
            head = (
                f"WRECKED: {len(self.weakened)} of {self.classes} classes removed or damaged, "
                "more than unlearning a forget set leaves; which were asked to be forgotten "
                "cannot be told from the damage; removed: "
                + (", ".join(f"class {name(c)} ({why(c)})" for c in self.removed) or "none")
            )
        elif self.removed:
            head = "REMOVED, the label leaks: " + "; ".join(
                f"class {name(c)} ({why(c)})" for c in self.removed
            )
        elif not self.measured:
            named = sorted({c for cs in self.answers.values() for c in cs})
            head = "no verdict without null models" + (
                f"; named by some attack: {', '.join(name(c) for c in named)}" if named else ""
            )
        else:
            head = f"no class removed ({heard} voters heard)"
        damaged = f"; damaged: {', '.join(name(c) for c in self.damaged)}" if self.damaged else ""
        if self.accuracy and (self.damaged or self.hurt):
            confirmed = [c for c in self.damaged if c in self.hurt]
            also = [c for c in self.hurt if c not in self.damaged]
            damaged += " (your test labels: " + (
                f"{len(confirmed)} of {len(self.damaged)} lost 10+ points"
                if self.damaged
                else "none called damaged"
            )
            damaged += f"; also hurt: {', '.join(map(str, also))})" if also else ")"
        if self.kept_accuracy:
            acc, was = self.accuracy, self.original_accuracy
            damaged += "; your test labels contradict removed for " + ", ".join(
                f"{name(c)} (test accuracy {acc[c]:.2f}, original {was[c]:.2f})"
                for c in self.kept_accuracy
            )
        warn = f"; {self.caveat}" if self.caveat else ""
        return f"{head}{damaged}{self._against_request(name)}; {self.fpr_text()}{warn}"

    def _against_request(self, name: Callable[[int], str]) -> str:
        if not self.requested:
            return ""
        text = f"; you asked to forget {', '.join(map(name, self.requested))}: "
        if not self.unmet:
            text += "all read removed"
        else:
            acc = self.accuracy  # your labelled test data's, where it has labels
            text += "not read removed: " + ", ".join(
                name(c) + (f" (test accuracy {acc[c]:.2f})" if c < len(acc) else "")
                for c in self.unmet
            )
        beyond = [c for c in self.removed if c not in self.requested]
        return text + (f"; removed beyond it: {', '.join(map(name, beyond))}" if beyond else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "removed": self.removed,
            "damaged": self.damaged,
            "intact": [c for c, s in sorted(self.status.items()) if s == INTACT],
            "status": {str(c): s for c, s in sorted(self.status.items())},
            "votes": {str(c): v for c, v in sorted(self.votes.items())},
            "false_alarms": self.false_alarms,
            "judged_nulls": self.judged_nulls,
            "fpr": None if not self.measured else self.fpr,
            "fpr_hi": None if not self.measured else self.fpr_hi,
            "answers": self.answers,
            "voters": [{**asdict(v), "fpr_hi": v.fpr_hi} for v in self.voters],
            "failed": self.failed,
            "null_models": self.nulls,
            "rule": self.rule,
            "accuracy": self.accuracy,
            "original_accuracy": self.original_accuracy,
            "hurt_by_accuracy": self.hurt,
            "removed_kept_accuracy": self.kept_accuracy,
            "probability": self.probability,
            "caveat": self.caveat,
            "wrecked": self.wrecked,
            "requested": self.requested,
            "requested_not_removed": self.unmet,
        }


def hurt_classes(
    accuracy: list[float], original: list[float], besides: Iterable[int] = ()
) -> set[int]:
    """Classes (other than ``besides``) whose test accuracy fell by DAMAGE_DROP or more from the
    original's; empty when either list is missing."""
    if not accuracy or len(accuracy) != len(original):
        return set()
    skip = set(besides)
    return {
        c
        for c, (a, o) in enumerate(zip(accuracy, original, strict=True))
        if c not in skip and o - a >= DAMAGE_DROP
    }


def lost_retained(accuracy: list[float], original: list[float], forget: Iterable[int]) -> bool:
    """Whether a model kept less than WRECK_SHARE of the original's mean test accuracy on the
    classes outside ``forget`` (the labelled check of ``wrecked``; False without labels)."""
    if not accuracy or len(accuracy) != len(original):
        return False
    skip = set(forget)
    keep = [c for c in range(len(accuracy)) if c not in skip]
    if not keep:
        return False
    mine = sum(accuracy[c] for c in keep) / len(keep)
    return mine < WRECK_SHARE * sum(original[c] for c in keep) / len(keep)


def judge(target: Evidence, nulls: list[Evidence], rule: VerdictRule, k: int) -> Verdict:
    """The verdict on ``target`` by ``rule``, with ``nulls`` as its null models."""
    v = Verdict(target.model, nulls=len(nulls), failed=dict(target.failed))
    v.answers = {label: a.named for label, a in target.answers.items()}
    v.classes = k
    if not nulls:
        return v
    ballots: dict[int, list[str]] = {}
    for attack in rule.voters:
        readings = [a for a in target.answers.values() if a.attack == attack]
        if not readings:
            continue
        heard, alarms, n = False, 0, 0
        for a in readings:
            refs = [e.answers[a.label] for e in nulls if a.label in e.answers]
            fa = sum(bool(x.named) for x in refs)
            ok = bool(refs) and fa <= rule.max_fpr * len(refs) + 1e-9
            alarms, n = max(alarms, fa), max(n, len(refs))
            if not ok:
                continue
            heard = True
            if rule.vote_by == "stacked":
                chosen = list(a.named)  # shown beside the score; the stack decides
            elif rule.vote_by in Z_VOTES:
                z = null_z(target, nulls, f"{attack}:{CALIBRATED.get(attack, '')}")
                chosen = [] if z is None else _z_votes(z, rule, a.named)
            else:
                chosen = list(a.named)
            for c in chosen:
                if rule.vote_by == "beyond":
                    ref = [x.scores[c] for x in refs if c < len(x.scores)]
                    ref = [s for s in ref if not math.isnan(s)]
                    if ref and not a.scores[c] > max(ref):
                        continue
                if attack not in ballots.setdefault(c, []):
                    ballots[c].append(attack)
        v.voters.append(Voter(attack, alarms, n, heard))
    v.votes = {c: sorted(b) for c, b in sorted(ballots.items())}
    if rule.vote_by == "stacked" and rule.stack is not None:
        p = rule.stack.probability(target, nulls, k)
        v.probability = [round(float(x), 4) for x in p]
        v.caveat = caveat(rule.stack, target, nulls)
        v.removed = [int(c) for c in np.nonzero(p >= rule.z_cut)[0]]
    else:
        v.removed = sorted(c for c, b in ballots.items() if len(b) >= rule.votes)
    z = null_z(target, nulls, rule.damaged_feature)
    if z is not None:
        v.damaged = sorted(int(c) for c in np.nonzero(z >= rule.damaged_z)[0] if c not in v.removed)
    v.wrecked = wrecked(v, rule)
    return v


def wrecked(v: Verdict, rule: VerdictRule) -> bool:
    """Whether ``v`` reads as a wrecked model by ``rule``'s wrecked reading."""
    if not rule.wrecked_by or not v.classes:
        return False
    if rule.wrecked_by == "hurt":
        share = len(v.weakened) / v.classes
    else:
        share = sum(v.probability) / v.classes
    return share >= rule.wrecked_cut


def _z_votes(z: np.ndarray, rule: VerdictRule, named: list[int]) -> list[int]:
    ok = z >= rule.z_cut  # z: one attack's null z per class
    if rule.vote_by == "zrel":
        ok &= robust_z(z, np.ones(len(z), bool)) >= rule.rel_cut
    elif rule.vote_by == "namedz":
        ok &= np.isin(np.arange(len(z)), named)
    return [int(c) for c in np.nonzero(ok)[0]]


def null_false_alarms(nulls: list[Evidence], rule: VerdictRule, k: int) -> list[Verdict]:
    """Each null model judged with the others as its nulls (leave one out)."""
    return [judge(e, nulls[:i] + nulls[i + 1 :], rule, k) for i, e in enumerate(nulls)]


def verdicts(
    rows: Results, audited_kind: str = "audited", rule: VerdictRule = RULE
) -> dict[str, Verdict]:
    """A :class:`Verdict` per audited model (rows of kind ``audited_kind``), judged against the
    null models' rows, with the verdict's false-alarm rate measured on those nulls."""
    rows = list(rows)
    k = max((len(r.scores) for r in rows if r.attack), default=0)
    nulls: dict[str, list[Evidence]] = {}  # by defence: a model is judged beside its like
    for ev in evidence_of(rows, "null").values():
        nulls.setdefault(ev.defence, []).append(ev)
    alarms = {d: sum(x.alarm for x in null_false_alarms(n, rule, k)) for d, n in nulls.items()}
    out = {}
    for key, ev in evidence_of(rows, audited_kind).items():
        mine = nulls.get(ev.defence, [])
        v = judge(ev, mine, rule, k)
        # one null alone has no other to be judged against: the rate is then unmeasured
        v.false_alarms = alarms.get(ev.defence, 0)
        v.judged_nulls = len(mine) if len(mine) >= 2 else 0
        v.rule = rule.describe()
        out[key] = v
    return out

"""The verdict's rule, chosen on the development populations and reported on the held-out
one (docs/protocol.md, "The verdict's populations" and its second to twelfth rounds).

    python -m benchmarks.verdict_pop dev && python -m benchmarks.verdict_pop test   # the models
    python -m benchmarks.verdict_pop test2 && python -m benchmarks.verdict_pop test3
    python -m benchmarks.verdict_pop test4 && python -m benchmarks.verdict_pop test5
    python -m benchmarks.verdict_pop test6 && python -m benchmarks.verdict_pop test7
    python -m benchmarks.verdict_pop test8 && python -m benchmarks.verdict_pop test9
    python -m benchmarks.verdict_pop test10 && python -m benchmarks.verdict_pop test11
    python -m benchmarks.verdict_pop test12
    python -m benchmarks.verdict store POP # benchmarks/results/verdict_evidence/ (no runs/ needed)
    python -m benchmarks.verdict merge POP # proto-transfer's answers from verdict_pop POP --proto
    python -m benchmarks.verdict select    # benchmarks/results/verdict_rule.json (dev only)
    python -m benchmarks.verdict report    # benchmarks/results/verdict.json, docs/results.md
    python -m benchmarks.verdict baselines POP  # oracle, before-after (needs POP's runs/)

``select`` replays the stacked candidates (``benchmarks/verdict_stack.py``; the third round
kept that family over the second round's grid), then the damaged cut and the wrecked reading,
on the development populations' stored rows and keeps the declared choice; ``report`` applies
the frozen rule (``unleak.evaluation.verdict_rule.RULE``) to every population and writes,
beside the verdict, each attack alone at its frozen rule.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from benchmarks import verdict_stack
from benchmarks.common import RESULTS, load, save
from benchmarks.docs import splice_section
from benchmarks.verdict_pop import OUT, OUT_PROTO, POPULATIONS
from unleak.attacks import attack_class
from unleak.evaluation.metrics import wilson
from unleak.evaluation.results import Results
from unleak.evaluation.verdict import (  # hurt_classes: one truth of "damaged", shared
    RULE,
    Answer,
    Evidence,
    VerdictRule,
    evidence_of,
    hurt_classes,
    judge,
    lost_retained,
    null_false_alarms,
)

log = logging.getLogger("benchmarks.verdict")
ATTACKS = ("probe-reach", "wb-inversion", "bb-genetic", "param-diff")
DAMAGED_FEATURES = (
    "probe-reach:rarity",
    "wb-inversion:steps_to_90",
    "wb-inversion:steps_to_50",
    "wb-inversion:entropy",
    "bb-genetic:entropy",
)
DAMAGED_Z = (2.0, 3.0, 4.0, 6.0, 8.0)
PARTLY = 0.2  # truth: a partly forgotten model keeps more than this forget-set accuracy
KEPT = 0.8  # truth (fifth round): a model that kept this share of the original's forget accuracy
NULL_DAMAGE_LIMIT = 0.10  # a damaged cut may show damage on at most this share of dev's nulls


@dataclass
class Unit:
    """One stored unit: its original's per-class accuracy, unlearned models and nulls."""

    name: str
    k: int
    original: list[float]
    truth: dict[str, dict[str, Any]]
    unlearned: dict[str, Evidence]
    nulls: list[Evidence]
    failed: dict[str, Any] = field(default_factory=dict)  # runs that diverged: no model


# population -> its folder under runs/verdict (each round made the last test development)
FOLDERS = {
    "dev": "dev",
    "dev2": "test",
    "dev3": "test2",
    "dev4": "test3",
    "dev5": "test4",
    "dev6": "test5",
    "dev7": "test6",
    "dev8": "test7",
    "dev9": "test8",
    "dev10": "test9",
    "dev11": "test10",
    "dev12": "test11",
    "test12": "test12",
}
DEVELOPMENT = tuple(p for p in FOLDERS if p.startswith("dev"))  # the twelfth round's twelve


# each population's evidence, stored compactly once built: what select and report read, so a
# clone without runs/ (never committed: models, probe sets) replays both without retraining
EVIDENCE = RESULTS / "verdict_evidence"


def stored_path(population: str) -> Path:
    """Named by the folder it was built in: a later round renames a test, not its models."""
    return EVIDENCE / f"{FOLDERS[population]}.json"


def _unit_of(truth: dict[str, Any], unlearned: dict[str, Evidence], nulls: list[Evidence]) -> Unit:
    return Unit(
        truth["unit"],
        len(truth["original"]),
        truth["original"],
        truth["models"],
        unlearned,
        nulls,
        truth.get("failed", {}),
    )


def _evidence(d: dict[str, Any]) -> Evidence:
    answers = {k: Answer(**a) for k, a in d["answers"].items()}
    return Evidence(d["model"], d["defence"], answers, d["failed"])


def _voters_and_proto(rows: list[Any], kind: str) -> dict[str, Evidence]:
    """Every attack's answers and proto-transfer's (a baseline the eleventh round measures);
    the other baselines (oracle, before-after) are tallied by :func:`baselines`, not stored."""
    out = evidence_of(rows, kind, baselines=True)
    for ev in out.values():
        ev.answers = {
            k: a
            for k, a in ev.answers.items()
            if a.attack == PROTO or not attack_class(a.attack).baseline
        }
    return out


def load_units(population: str) -> list[Unit]:
    """The population's units from its run folders, else from its stored evidence."""
    units = []
    for d in sorted((OUT / FOLDERS[population]).glob("*/truth.json")):
        truth = json.loads(d.read_text())
        rows = Results.load(d.parent / "audit" / "results.jsonl")
        nulls = list(_voters_and_proto(rows, "null").values())
        units.append(_unit_of(truth, _voters_and_proto(rows, "audited"), nulls))
    declared = {u.name for u in POPULATIONS[FOLDERS[population]]}
    if units and {u.name for u in units} != declared:  # still building: not the population
        log.warning(
            "verdict-%s: %d of %d units built; not read", population, len(units), len(declared)
        )
        units = []
    stored = stored_path(population)
    if units or not stored.is_file():
        return units
    for u in json.loads(stored.read_text()):
        unlearned = {k: _evidence(e) for k, e in u["unlearned"].items()}
        units.append(_unit_of(u["truth"], unlearned, [_evidence(e) for e in u["nulls"]]))
    return units


def store(population: str) -> Path:
    """Write the population's evidence (truth, every model's and null's answers) from its runs."""
    units = [u for u in load_units(population) if u.truth]
    if not (OUT / FOLDERS[population]).is_dir():
        raise SystemExit(f"no runs of verdict-{population} here: build it first")
    payload = [
        {
            "truth": {
                "unit": u.name,
                "original": u.original,
                "models": u.truth,
                "failed": u.failed,
            },
            "unlearned": {k: asdict(e) for k, e in u.unlearned.items()},
            "nulls": [asdict(e) for e in u.nulls],
        }
        for u in units
    ]
    EVIDENCE.mkdir(parents=True, exist_ok=True)
    path = stored_path(population)
    # plain compact JSON: the benchmark's results, read and diffed like the others here
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    return path


PROTO = "proto-transfer"  # the eleventh round's reading against the original
FINGERPRINT = "probe-reach"  # the rebuilt model is the stored one when its answer is the same
MERGED = RESULTS / "verdict_proto_merge.json"


def _same(rebuilt: Evidence | None, stored: dict[str, Any]) -> bool:
    """Whether ``rebuilt``'s fingerprint answer is ``stored``'s (features and names, as stored)."""
    if rebuilt is None:
        return False
    new = next((a for a in rebuilt.answers.values() if a.attack == FINGERPRINT), None)
    old = next((a for a in stored["answers"].values() if a["attack"] == FINGERPRINT), None)
    if new is None or old is None:
        return False
    return json.loads(json.dumps(new.features)) == old["features"] and new.named == old["named"]


def _add_proto(rebuilt: Evidence | None, stored: dict[str, Any]) -> bool:
    """Give ``stored`` the rebuilt model's proto-transfer answer if it is the same model."""
    answer = (
        None
        if rebuilt is None
        else next((a for a in rebuilt.answers.values() if a.attack == PROTO), None)
    )
    stored["answers"] = {k: a for k, a in stored["answers"].items() if a["attack"] != PROTO}
    if answer is None or not _same(rebuilt, stored):
        return False
    stored["answers"][answer.label] = json.loads(json.dumps(asdict(answer)))
    return True


def merge(population: str) -> Path:
    """The eleventh round's merge (docs/protocol.md): each stored model's and null's
    proto-transfer answer from ``runs/verdict_proto/``, where the rebuilt model is the stored
    one (its probe-reach answer, and an unlearned model's per-class accuracy, unchanged)."""
    folder = OUT_PROTO / FOLDERS[population]
    declared = {u.name for u in POPULATIONS[FOLDERS[population]]}
    if {d.parent.name for d in folder.glob("*/truth.json")} != declared:
        raise SystemExit(
            f"verdict-{population} is not rebuilt in {folder}: run verdict_pop --proto"
        )
    path = stored_path(population)
    payload = json.loads(path.read_text())
    counts = {"models": 0, "models_merged": 0, "nulls": 0, "nulls_merged": 0, "left_out": []}
    for u in payload:
        d = folder / u["truth"]["unit"]
        truth = json.loads((d / "truth.json").read_text())
        rows = Results.load(d / "audit" / "results.jsonl")
        models = evidence_of(rows, "audited", baselines=True)
        nulls = evidence_of(rows, "null", baselines=True)
        for name, e in u["unlearned"].items():
            same_acc = (
                truth["models"].get(name, {}).get("per_class")
                == (u["truth"]["models"][name]["per_class"])
            )
            counts["models"] += 1
            if same_acc and _add_proto(models.get(name), e):
                counts["models_merged"] += 1
            else:
                e["answers"] = {k: a for k, a in e["answers"].items() if a["attack"] != PROTO}
                counts["left_out"].append(f"{u['truth']['unit']}/{name}")
        for e in u["nulls"]:
            key = e["model"] if not e["defence"] else f"{e['model']}+{e['defence']}"
            counts["nulls"] += 1
            if _add_proto(nulls.get(key), e):
                counts["nulls_merged"] += 1
            else:
                counts["left_out"].append(f"{u['truth']['unit']}/null {key}")
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    record = json.loads(MERGED.read_text()) if MERGED.is_file() else {}
    record[FOLDERS[population]] = counts
    MERGED.write_text(json.dumps(dict(sorted(record.items())), indent=1) + "\n")
    log.warning("verdict-%s: %s", population, {k: v for k, v in counts.items() if k != "left_out"})
    return path


NO_DAMAGE = ("probe-reach:rarity", 1e9)  # the removal rule is chosen without damaged classes
# the wrecked reading's candidates (docs/protocol.md, fourth round): a share of the K classes
WRECKED = (
    *(("hurt", s) for s in (0.4, 0.5, 0.6, 0.7, 0.8)),
    *(("mass", s) for s in (0.15, 0.2, 0.3, 0.4)),
)
NULL_ALARM_LIMIT = 0.05  # the wrecked cut keeps the verdict's false alarms within this share


def alone(attack: str) -> VerdictRule:
    """One attack at its frozen rule, heard whatever it does on the nulls (the per-attack row)."""
    return VerdictRule((attack,), 1, 1.0, "named", 0.0, *NO_DAMAGE)


def diagnostic() -> dict[str, VerdictRule]:
    """Rules reported beside the chosen one for diagnosis only: 1 of 3 attacks that flag no
    null, at their own cuts; 2 of 3 at their own cuts; the second and third rounds' frozen
    rules, and the fourth round's (stacked, with the wrecked reading; measured on test4 and
    test5). None is chosen by looking at the test rows; they show whether the test's misses are
    the rule's or the population's."""
    return {
        "named, 1 of 3 clean (diagnostic)": VerdictRule(
            ATTACKS[:3], 1, 0.0, "named", 0.0, *NO_DAMAGE
        ),
        "named, 2 of 3 (diagnostic)": VerdictRule(ATTACKS[:3], 2, 0.05, "named", 0.0, *NO_DAMAGE),
        "second round's rule (diagnostic)": VerdictRule(
            ATTACKS[:3], 2, 0.05, "zrel", 15.0, *NO_DAMAGE, 2.0
        ),
        # as frozen then: stacked, no wrecked reading
        "third round's rule (diagnostic)": VerdictRule.from_dict(
            load("verdict_rule_round3")["rule"]
        ),
        "fourth round's rule (diagnostic)": VerdictRule.from_dict(
            load("verdict_rule_round4")["rule"]
        ),
        "sixth round's rule (diagnostic)": VerdictRule.from_dict(
            load("verdict_rule_round6")["rule"]
        ),
        "seventh round's rule (diagnostic)": VerdictRule.from_dict(
            load("verdict_rule_round7")["rule"]
        ),
        "eighth round's rule (diagnostic)": VerdictRule.from_dict(
            load("verdict_rule_round8")["rule"]
        ),
        "ninth round's rule (diagnostic)": VerdictRule.from_dict(
            load("verdict_rule_round9")["rule"]
        ),
        "tenth round's rule (diagnostic)": VerdictRule.from_dict(
            load("verdict_rule_round10")["rule"]
        ),
        "eleventh round's rule (diagnostic)": VerdictRule.from_dict(
            load("verdict_rule_round11")["rule"]
        ),
    }


def with_damage(rule: VerdictRule, feature: str, z: float) -> VerdictRule:
    return dataclasses.replace(rule, damaged_feature=feature, damaged_z=z)


def cell(k: int, n: int) -> dict[str, Any]:
    """``k`` of ``n`` with its rate and 95% Wilson interval."""
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "rate": k / n if n else None, "lo": lo, "hi": hi}


@dataclass
class Tally:
    hits: int = 0
    models: int = 0
    false_alarms: int = 0
    nulls: int = 0
    partly_hits: int = 0
    partly: int = 0
    damaged_tp: int = 0
    damaged_fp: int = 0
    damaged_fn: int = 0
    nulls_damaged: int = 0
    # the fourth round's wrecked reading: truth by labels (lost_retained), said by the verdict
    wrecked: int = 0  # models wrecked by truth
    wrecked_said: int = 0  # ... that the verdict calls wrecked
    sound_said: int = 0  # models not wrecked by truth that the verdict calls wrecked
    sound_hits: int = 0  # exact-set hits on models not wrecked by truth
    aware_hits: int = 0  # wrecked: called wrecked; otherwise an exact set, not called wrecked
    aware_false_alarms: int = 0  # nulls with a class removed or called wrecked
    # the fifth round's slices: what the request left in place, and what the model did
    kept: int = 0  # models that kept KEPT of the original's forget-set accuracy
    unkept_hits: int = 0  # exact-set hits on the others
    effect_hits: int = 0  # removed set == the forget classes brought to at most PARTLY
    misses: list[str] = field(default_factory=list)

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def rates(self) -> dict[str, Any]:
        p = self.damaged_tp + self.damaged_fp
        r = self.damaged_tp + self.damaged_fn
        sound = self.models - self.wrecked
        return {
            "hit": cell(self.hits, self.models),
            "fpr": cell(self.false_alarms, self.nulls),
            "partly": cell(self.partly_hits, self.partly),
            "forgotten": cell(self.hits - self.partly_hits, self.models - self.partly),
            "damaged_precision": cell(self.damaged_tp, p),
            "damaged_recall": cell(self.damaged_tp, r),
            "nulls_damaged": cell(self.nulls_damaged, self.nulls),
            "sound": cell(self.sound_hits, sound),
            "wrecked_recall": cell(self.wrecked_said, self.wrecked),
            "wrecked_on_sound": cell(self.sound_said, sound),
            "aware": cell(self.aware_hits, self.models),
            "aware_fpr": cell(self.aware_false_alarms, self.nulls),
            "unkept": cell(self.unkept_hits, self.models - self.kept),
            "effect": cell(self.effect_hits, self.models),
        }


def tally(units: list[Unit], rule: VerdictRule, keep: Any = None, loo: bool = True) -> Tally:
    """Hits on the unlearned models (``keep(truth)`` filters them) and leave-one-out false
    alarms on the nulls, by ``rule``."""
    t = Tally()
    for u in units:
        for name, ev in u.unlearned.items():
            truth = u.truth[name]
            if keep is not None and not keep(truth):
                continue
            v = judge(ev, u.nulls, rule, u.k)
            forget = set(truth["forget"])
            hit = set(v.removed) == forget
            wrecked = lost_retained(truth["per_class"], u.original, forget)
            t.models += 1
            t.hits += hit
            t.wrecked += wrecked
            t.wrecked_said += wrecked and v.wrecked
            t.sound_said += not wrecked and v.wrecked
            t.sound_hits += not wrecked and hit
            t.aware_hits += v.wrecked if wrecked else hit and not v.wrecked
            fa = verdict_stack.forget_acc(truth)
            kept = fa >= KEPT * sum(u.original[c] for c in forget) / len(forget)
            t.kept += kept
            t.unkept_hits += hit and not kept
            removed = {c for c in forget if truth["per_class"][c] <= PARTLY}
            t.effect_hits += set(v.removed) == removed
            if not hit:
                t.misses.append(f"{u.name}/{name}: {sorted(forget)} -> {v.removed}")
            if fa > PARTLY:
                t.partly += 1
                t.partly_hits += hit
            hurt = hurt_classes(truth["per_class"], u.original, forget)
            said = set(v.damaged) - forget
            t.damaged_tp += len(said & hurt)
            t.damaged_fp += len(said - hurt)
            t.damaged_fn += len(hurt - said)
        if loo:
            for v in null_false_alarms(u.nulls, rule, u.k):
                t.nulls += 1
                t.false_alarms += bool(v.removed)
                t.aware_false_alarms += v.alarm
                t.nulls_damaged += bool(v.damaged)
    return t


def select() -> dict[str, Any]:
    """The declared selection (the fourth round's procedure, the seventh round's grid, the
    ninth round's tree family; the tenth round's ten populations), on development only: the
    stacked candidate (leave one population out), then the damaged cut, then the wrecked
    reading."""
    by_pop = {pop: load_units(pop) for pop in DEVELOPMENT}
    units = [u for us in by_pop.values() for u in us]
    rows = {pop: verdict_stack.model_rows(us) for pop, us in by_pop.items()}
    cand, stacked_table = verdict_stack.choose(rows)
    train = [r for rs in rows.values() for r in rs]
    stack = verdict_stack.fit(train, cand)
    best = VerdictRule(tuple(stack.attacks()), 1, 1.0, "stacked", cand.cut, *NO_DAMAGE, 0.0, stack)
    damaged = []
    for feature, z in itertools.product(DAMAGED_FEATURES, DAMAGED_Z):
        t = tally(units, with_damage(best, feature, z))
        p = t.damaged_tp / max(t.damaged_tp + t.damaged_fp, 1)
        r = t.damaged_tp / max(t.damaged_tp + t.damaged_fn, 1)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        damaged.append((feature, z, f1, t))
    fit = [d for d in damaged if d[3].nulls_damaged <= NULL_DAMAGE_LIMIT * d[3].nulls]
    feature, z, f1, _ = max(fit, key=lambda d: (d[2], d[1]))
    best = with_damage(best, feature, z)
    # declared: the most wrecked-aware hits whose false alarms (a class removed or the model
    # called wrecked) stay within NULL_ALARM_LIMIT of the nulls; ties: the higher cut
    wrecked = [
        (by, cut, tally(units, dataclasses.replace(best, wrecked_by=by, wrecked_cut=cut)))
        for by, cut in WRECKED
    ]
    ok = [w for w in wrecked if w[2].aware_false_alarms <= NULL_ALARM_LIMIT * w[2].nulls]
    by, cut, _ = max(ok, key=lambda w: (w[2].aware_hits, w[1]))
    chosen = dataclasses.replace(best, wrecked_by=by, wrecked_cut=cut)
    payload = {
        "population": " + ".join(f"verdict-{p}" for p in DEVELOPMENT),
        "units": [u.name for u in units],
        "unlearned": sum(len(u.unlearned) for u in units),
        "nulls": sum(len(u.nulls) for u in units),
        "rule": asdict(chosen),
        "stacked_choice": cand.__dict__,
        "stacked_held_out": verdict_stack.held_out(rows),
        "stacked_candidates": stacked_table,
        "damaged_candidates": [
            {"feature": f, "z": zz, "f1": ff, **t.rates()} for f, zz, ff, t in damaged
        ],
        "damaged_f1": f1,
        "wrecked_candidates": [
            {"by": b, "cut": c, **{k: v for k, v in t.rates().items() if k != "misses"}}
            for b, c, t in wrecked
        ],
    }
    save("verdict_rule", payload)
    return payload


def report() -> dict[str, Any]:
    out: dict[str, Any] = {"rule": asdict(RULE), "populations": {}}
    before = (load("verdict") or {}).get("populations", {})
    for pop in FOLDERS:
        units = load_units(pop)
        if not units:
            if pop in before:  # neither runs nor stored evidence here: its figures as measured
                out["populations"][pop] = before[pop]
            continue
        by_unit = {u.name: tally([u], RULE) for u in units}
        rows = {"verdict": sum(by_unit.values(), Tally())}
        for a in ATTACKS:
            rows[a] = tally(units, alone(a))
        # a baseline, never a voter (docs/protocol.md, the eleventh round); where a model has no
        # proto-transfer answer (dev8 to dev10, verdict_proto_merge.json) it names nothing
        rows[f"{PROTO} (baseline)"] = tally(units, alone(PROTO))
        for name, rule in diagnostic().items():  # other candidates, shown, never chosen here
            rows[name] = tally(units, rule)
        methods = sorted({t["method"] for u in units for t in u.truth.values()})
        by_method = {
            m: tally(units, RULE, keep=lambda t, m=m: t["method"] == m, loo=False).rates()["hit"]
            for m in methods
        }

        clean = sum(  # models without collateral damage (truth: no other class hurt)
            (
                tally(
                    [u],
                    RULE,
                    keep=lambda t, u=u: not hurt_classes(t["per_class"], u.original, t["forget"]),
                    loo=False,
                )
                for u in units
            ),
            Tally(),
        )
        from math import comb

        models = [(u, t) for u in units for t in u.truth.values()]

        def mean(xs: list[float]) -> float:
            return sum(xs) / len(xs)

        efficacy = {
            "forget_acc": mean([verdict_stack.forget_acc(t) for _, t in models]),
            "retain_acc": mean(
                [
                    mean([a for c, a in enumerate(t["per_class"]) if c not in t["forget"]])
                    for _, t in models
                ]
            ),
            # a guess told |F|: 1 / C(K, |F|); not told: 1 / (2^K - 2) subsets
            "chance_told": mean([1 / comb(u.k, len(t["forget"])) for u, t in models]),
            "chance": mean([1 / (2**u.k - 2) for u, _ in models]),
        }
        out["populations"][pop] = {
            "efficacy": efficacy,
            "units": [u.name for u in units],
            "rows": {k: t.rates() for k, t in rows.items()},
            "no_collateral": clean.rates()["hit"],
            "misses": rows["verdict"].misses,
            "failed": {f"{u.name}/{n}": f["error"] for u in units for n, f in u.failed.items()},
            "by_method": by_method,
            "by_unit": {
                k: {"hit": t.rates()["hit"], "fpr": t.rates()["fpr"]} for k, t in by_unit.items()
            },
        }
    save("verdict", out)
    splice_section(markdown(out), "## The verdict, combined", before="<!-- heldout: begin -->")
    return out


def stored_section() -> str:
    """The section from benchmarks/results/verdict.json (for a full rebuild of results.md)."""
    out = load("verdict")
    if not out:
        return (
            "## The verdict, combined\n\nNot measured yet: `python -m benchmarks.verdict report`.\n"
        )
    return markdown(out)


def _cell(c: dict[str, Any]) -> str:
    if not c["n"]:
        return "-"
    return f"{100 * c['rate']:.0f}% [{100 * c['lo']:.0f}-{100 * c['hi']:.0f}] ({c['k']}/{c['n']})"


def markdown(out: dict[str, Any]) -> str:
    lines = [
        "## The verdict, combined",
        "",
        "The verdict of an audit of your own models (`unleak audit --unlearned ...`,",
        "`unleak.audit_models`) combines the attacks per class by one frozen rule: "
        + VerdictRule.from_dict(out["rule"]).describe()
        + '. Twelfth round (docs/protocol.md, "The verdict\'s twelfth round"): the eleventh '
        "round's procedure (logistic and boosted-tree families, proto-transfer's columns a "
        "candidate feature set), chosen on "
        "`verdict-dev` to `verdict-dev12` (the earlier rounds' tests) pooled, reported on the "
        "fresh `verdict-test12` (class-discriminative pruning, MUNBa); each "
        "unit is one original audited with its 24 "
        "default null models, no forget set given. Hit: the removed set is exactly the forget "
        "set. False alarms: each null model judged with the other 23 as its nulls. Forgotten: "
        "models whose forget-set test accuracy is at most 0.2 (partly forgotten: above). "
        "Wrecked (truth, by labels): the model kept under half the original's test accuracy on "
        "the classes outside the forget set; sound: not wrecked. Wrecked-aware hit: a wrecked "
        "model called wrecked, or a sound model's exact set without calling it wrecked; its "
        "false alarms: a null with a class removed or called wrecked. Fifth round's slices: "
        "*kept*, a model whose forget-set test accuracy is at least 0.8 of the original's (the "
        "request left in place); *by effect*, the removed set against the forget classes the "
        "model brought to at most 0.2 test accuracy. proto-transfer alone: a model with no "
        "proto-transfer answer names nothing, which is most of dev8 to dev10's (their CNN and "
        "LeNet originals rebuilt differently; benchmarks/results/verdict_proto_merge.json). "
        "95% Wilson intervals.",
        "",
        "    python -m benchmarks.verdict_pop dev && python -m benchmarks.verdict_pop test",
        "    python -m benchmarks.verdict_pop test2 && python -m benchmarks.verdict_pop test3",
        "    python -m benchmarks.verdict_pop test4 && python -m benchmarks.verdict_pop test5",
        "    python -m benchmarks.verdict_pop test6 && python -m benchmarks.verdict_pop test7",
        "    python -m benchmarks.verdict_pop test8 && python -m benchmarks.verdict_pop test9",
        "    python -m benchmarks.verdict_pop test10 && python -m benchmarks.verdict_pop test11",
        "    python -m benchmarks.verdict_pop test12",
        "    python -m benchmarks.verdict store POP   # each; benchmarks/results/verdict_evidence/",
        "    python -m benchmarks.verdict select && python -m benchmarks.verdict report",
        "",
        "A population with neither runs nor stored evidence on the machine that reports keeps its "
        "figures as last measured; every population here is replayed from its stored evidence.",
        "",
    ]
    chosen = load("verdict_rule")
    if chosen and "stacked_held_out" in chosen:
        st = chosen["stacked_held_out"]["pooled"]
        c = chosen.get("stacked_choice")
        family = (
            "boosted trees"
            if c and c.get("family") == "trees"
            else f"logistic, C {c['c']:g}"
            if c
            else ""
        )
        picked = (
            f"{family}, feature set {c['features']}, cut {c['cut']:g}, training bound "
            f"{c.get('train_max', 0.5):g} (forget-set accuracy up to which a model trains the "
            "fit); "
            if c
            else ""
        )
        lines += [
            f"The stacked choice: {picked}the whole procedure run once per development "
            "population held out (chosen on the others, "
            f"scored on the one held out): {st['hits']}/{st['models']} hits, {st['false_alarms']}/"
            f"{st['nulls']} false alarms.",
            "",
        ]
    ordinal = (
        "First",
        "Second",
        "Third",
        "Fourth",
        "Sixth",
        "Seventh",
        "Eighth",
        "Ninth",
        "Tenth",
        "Eleventh",
    )
    for n, (name, dev, tests) in enumerate(
        [
            ("verdict_round1", "`verdict-dev`", ("test",)),
            ("verdict_round2", "dev + dev2", ("test2",)),
            ("verdict_round3", "dev to dev3", ("test3",)),
            ("verdict_round4", "dev to dev4", ("test4", "test5")),  # the fifth round re-measured
            ("verdict_round6", "dev to dev6", ("test6",)),
            ("verdict_round7", "dev to dev7", ("test7",)),
            ("verdict_round8", "dev to dev8", ("test8",)),
            ("verdict_round9", "dev to dev9", ("test9",)),
            ("verdict_round10", "dev to dev10", ("test10",)),
            ("verdict_round11", "dev to dev11", ("test11",)),
        ]
    ):
        past = load(name)
        if not past:
            continue
        held = [past["populations"][t]["rows"]["verdict"] for t in tests]
        lines += [
            f"{ordinal[n]} round (`benchmarks/results/{name}.json`)"
            f": {VerdictRule.from_dict(past['rule']).describe()}; chosen on {dev}, held out on "
            + "; on ".join(
                f"`verdict-{t}`: {_cell(h['hit'])} exact-set hits, {_cell(h['fpr'])} false alarms"
                for t, h in zip(tests, held, strict=True)
            )
            + ". Development now: its rows below are development figures.",
            "",
        ]
    speed = load("byo_speed")
    if speed:
        lines += [
            f"Speed (`{speed['command']}`): `unleak audit` of one unlearned MNIST LeNet (a user's "
            f"net, 60,000 training images) with its {speed['null_models']} default null models "
            f"took {speed['cli_seconds']:.0f} s on this 2-core CPU, start-up included (target: at "
            "most 120 s); in process "
            + ", ".join(f"{k} {v:.0f} s" for k, v in speed["attack_seconds"].items())
            + f", null models and the rest {speed['nulls_and_rest_seconds']:.0f} s.",
            "",
        ]
    for pop, p in out["populations"].items():
        role = {
            "dev": "development",
            "dev2": "development: the first round's test",
            "dev3": "development: the second round's test",
            "dev4": "development: the third round's test",
            "dev5": "development: the fourth round's test",
            "dev6": "development: the fifth round's test",
            "dev7": "development: the sixth round's test",
            "dev8": "development: the seventh round's test",
            "dev9": "development: the eighth round's test",
            "dev10": "development: the ninth round's test",
            "dev11": "development: the tenth round's test",
            "dev12": "development: the eleventh round's test",
            "test12": "held out: the twelfth round's test",
        }
        lines += [
            f"**verdict-{pop}** ({role.get(pop, 'held out')}; {len(p['units'])} units: "
            f"{', '.join(p['units'])})",
            "",
            "| reading | exact-set hits | false alarms on nulls | forgotten | partly forgotten "
            "| sound | wrecked-aware hits | its false alarms | wrecked called | damaged: precision "
            "| recall |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, r in p["rows"].items():
            label = (
                "**verdict**"
                if name == "verdict"
                else name
                if name.endswith("(diagnostic)")
                else f"{name.removesuffix(' (baseline)')} alone (a baseline, never a voter)"
                if name.endswith("(baseline)")
                else f"{name} alone"
            )
            lines.append(
                f"| {label} | {_cell(r['hit'])} | {_cell(r['fpr'])} | {_cell(r['forgotten'])} | "
                f"{_cell(r['partly'])} | {_cell(r['sound'])} | "
                + (
                    f"{_cell(r['aware'])} | {_cell(r['aware_fpr'])} | "
                    f"{_cell(r['wrecked_recall'])} | "
                    f"{_cell(r['damaged_precision'])} | {_cell(r['damaged_recall'])} |"
                    if name == "verdict"
                    else "- | - | - | - | - |"
                )
            )
        base = (load("verdict_baselines") or {}).get(pop)
        if base:
            lines += [
                "",
                "Baselines, never voters (`python -m benchmarks.verdict baselines "
                f"{pop}`, from its runs): "
                + "; ".join(
                    f"{label} {_cell(b['hit'])} exact-set hits, {_cell(b['fpr'])} false alarms"
                    for label, b in base.items()
                )
                + " (`oracle` reads labelled test data; `before-after` probes the original too).",
            ]
        e = p["efficacy"]
        lines += [
            "",
            f"Chance of an exact hit: {100 * e['chance']:.1f}% for a guess not told |F| (a "
            f"random non-empty proper subset), {100 * e['chance_told']:.0f}% told |F|. The "
            f"attacked models: forget-set test accuracy {e['forget_acc']:.2f}, retained "
            f"{e['retain_acc']:.2f} (means over the {p['rows']['verdict']['hit']['n']} models).",
            "",
            "On models without collateral damage (no class outside the forget set lost 0.10 of "
            f"test accuracy; a slice added after the first test build was seen): "
            f"{_cell(p['no_collateral'])}.",
            "",
            f"Wrecked by truth: {p['rows']['verdict']['wrecked_recall']['n']} of the "
            f"{p['rows']['verdict']['hit']['n']} models; the verdict called "
            f"{_cell(p['rows']['verdict']['wrecked_on_sound'])} of the sound ones wrecked.",
            "",
            "By method: " + "; ".join(f"{m} {_cell(c)}" for m, c in p["by_method"].items()),
            "",
        ]
        v = p["rows"]["verdict"]
        if "unkept" in v:  # the fifth round's slices (earlier rounds' stored rows lack them)
            kept = v["hit"]["n"] - v["unkept"]["n"]
            lines += [
                f"Kept their forget set: {kept} of the {v['hit']['n']} models; on the others the "
                f"verdict hits {_cell(v['unkept'])}. By effect: {_cell(v['effect'])}.",
                "",
            ]
        if p["misses"]:
            lines += ["Misses: " + "; ".join(f"`{m}`" for m in p["misses"]), ""]
        if p.get("failed"):
            lines += [
                "Unlearning runs that diverged (no model came out; not counted): "
                + "; ".join(f"`{m}`" for m in p["failed"]),
                "",
            ]
    return "\n".join(lines) + "\n"


def baselines(population: str) -> dict[str, Any]:
    """The audits' label-reading baselines (``oracle``, ``before-after``; never voters) on a
    population, exact-set hits and false alarms, from its run folders: the stored evidence
    keeps the voters' answers only, so this needs the population built here."""
    tallies: dict[str, dict[str, int]] = {}
    folder = OUT / FOLDERS[population]
    for path in sorted(folder.glob("*/truth.json")):
        truth = json.loads(path.read_text())
        for row in Results.load(path.parent / "audit" / "results.jsonl"):
            if row.attack not in ("oracle", "before-after") or row.kind not in ("audited", "null"):
                continue
            t = tallies.setdefault(row.label, dict.fromkeys(("hits", "models", "fa", "nulls"), 0))
            if row.kind == "audited":
                t["models"] += 1
                t["hits"] += sorted(row.predicted) == sorted(truth["models"][row.method]["forget"])
            else:
                t["nulls"] += 1
                t["fa"] += bool(row.predicted)
    if not tallies:
        raise SystemExit(f"no runs of verdict-{population} here: build it first")
    out = {
        label: {"hit": cell(t["hits"], t["models"]), "fpr": cell(t["fa"], t["nulls"])}
        for label, t in tallies.items()
    }
    payload = {**(load("verdict_baselines") or {}), population: out}
    payload.pop("machine", None)
    save("verdict_baselines", payload)
    return out


if __name__ == "__main__":
    if sys.argv[1] == "store":
        store(sys.argv[2])
    elif sys.argv[1] == "merge":
        merge(sys.argv[2])
    elif sys.argv[1] == "baselines":
        baselines(sys.argv[2])
    else:
        {"select": select, "report": report}[sys.argv[1]]()

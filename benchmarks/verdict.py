"""The verdict's rule, chosen on the development populations and reported on the held-out
one (docs/protocol.md, "The verdict's populations" and its second and third rounds).

    python -m benchmarks.verdict_pop dev && python -m benchmarks.verdict_pop test   # the models
    python -m benchmarks.verdict_pop test2 && python -m benchmarks.verdict_pop test3
    python -m benchmarks.verdict select    # benchmarks/results/verdict_rule.json (dev only)
    python -m benchmarks.verdict report    # benchmarks/results/verdict.json, docs/results.md

``select`` replays every candidate rule of both families (the grid here, the stacked verdict in
``benchmarks/verdict_stack.py``) on the development populations' stored rows and keeps the
declared choice; ``report`` applies the frozen rule (``unleak.evaluation.verdict.RULE``) to every
population and writes, beside the verdict, each attack alone at its frozen rule.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from benchmarks import verdict_stack
from benchmarks.common import load, save
from benchmarks.docs import splice_section
from benchmarks.verdict_pop import OUT
from unleak.evaluation.metrics import wilson
from unleak.evaluation.results import Results
from unleak.evaluation.verdict import (  # hurt_classes: one truth of "damaged", shared
    RULE,
    Evidence,
    VerdictRule,
    evidence_of,
    hurt_classes,
    judge,
    null_false_alarms,
)

ATTACKS = ("probe-reach", "wb-inversion", "bb-genetic", "param-diff")
VOTER_SETS = (ATTACKS[:3], ATTACKS)
DAMAGED_FEATURES = (
    "probe-reach:rarity",
    "wb-inversion:steps_to_90",
    "wb-inversion:steps_to_50",
    "wb-inversion:entropy",
    "bb-genetic:entropy",
)
DAMAGED_Z = (2.0, 3.0, 4.0, 6.0, 8.0)
PARTLY = 0.2  # truth: a partly forgotten model keeps more than this forget-set accuracy
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
FOLDERS = {"dev": "dev", "dev2": "test", "dev3": "test2", "test3": "test3"}
DEVELOPMENT = ("dev", "dev2", "dev3")


def load_units(population: str) -> list[Unit]:
    units = []
    for d in sorted((OUT / FOLDERS[population]).glob("*/truth.json")):
        truth = json.loads(d.read_text())
        rows = Results.load(d.parent / "audit" / "results.jsonl")
        unlearned = evidence_of(rows, "audited")
        nulls = list(evidence_of(rows, "null").values())
        k = len(truth["original"])
        units.append(
            Unit(
                truth["unit"],
                k,
                truth["original"],
                truth["models"],
                unlearned,
                nulls,
                truth.get("failed", {}),
            )
        )
    return units


MAX_FPR = (0.0, 0.05, 0.1, 1.0)  # an attack is heard when it flags at most this share of nulls
Z_CUTS = (4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0)  # the second round added 30 and 50
REL_CUTS = (2.0, 3.0, 5.0)  # zrel: robust deviations above the model's other classes
NO_DAMAGE = ("probe-reach:rarity", 1e9)  # the removal grid is scored without damaged classes


def candidates() -> list[VerdictRule]:
    """Every removal rule of the declared grid (the damaged cut is chosen apart)."""
    out = []
    for voters in VOTER_SETS:
        for votes in range(1, len(voters) + 1):
            for max_fpr, vote_by in itertools.product(MAX_FPR, ("named", "beyond")):
                out.append(VerdictRule(voters, votes, max_fpr, vote_by, 0.0, *NO_DAMAGE))
            for max_fpr, z in itertools.product((0.05, 1.0), Z_CUTS):
                out.append(VerdictRule(voters, votes, max_fpr, "z", z, *NO_DAMAGE))
                out.append(VerdictRule(voters, votes, max_fpr, "namedz", z, *NO_DAMAGE))
                for rel in REL_CUTS:
                    out.append(VerdictRule(voters, votes, max_fpr, "zrel", z, *NO_DAMAGE, rel))
    return out


def alone(attack: str) -> VerdictRule:
    """One attack at its frozen rule, heard whatever it does on the nulls (the per-attack row)."""
    return VerdictRule((attack,), 1, 1.0, "named", 0.0, *NO_DAMAGE)


# Removal rules of the grid, reported beside the chosen one for diagnosis only: 1 of 3 attacks
# that flag no null, at their own cuts; 2 of 3 at their own cuts; the second round's frozen rule.
# None is chosen by looking at the test rows; they show whether the test's misses are the rule's
# or the population's.
DIAGNOSTIC = {
    "named, 1 of 3 clean (diagnostic)": VerdictRule(ATTACKS[:3], 1, 0.0, "named", 0.0, *NO_DAMAGE),
    "named, 2 of 3 (diagnostic)": VerdictRule(ATTACKS[:3], 2, 0.05, "named", 0.0, *NO_DAMAGE),
    # the second round's frozen removal rule, for comparison with the third's
    "second round's rule (diagnostic)": VerdictRule(
        ATTACKS[:3], 2, 0.05, "zrel", 15.0, *NO_DAMAGE, 2.0
    ),
}


def with_damage(rule: VerdictRule, feature: str, z: float) -> VerdictRule:
    return dataclasses.replace(rule, damaged_feature=feature, damaged_z=z)


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
    misses: list[str] = field(default_factory=list)

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def rates(self) -> dict[str, Any]:
        def cell(k: int, n: int) -> dict[str, Any]:
            lo, hi = wilson(k, n)
            return {"k": k, "n": n, "rate": k / n if n else None, "lo": lo, "hi": hi}

        p = self.damaged_tp + self.damaged_fp
        r = self.damaged_tp + self.damaged_fn
        return {
            "hit": cell(self.hits, self.models),
            "fpr": cell(self.false_alarms, self.nulls),
            "partly": cell(self.partly_hits, self.partly),
            "forgotten": cell(self.hits - self.partly_hits, self.models - self.partly),
            "damaged_precision": cell(self.damaged_tp, p),
            "damaged_recall": cell(self.damaged_tp, r),
            "nulls_damaged": cell(self.nulls_damaged, self.nulls),
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
            t.models += 1
            t.hits += hit
            if not hit:
                t.misses.append(f"{u.name}/{name}: {sorted(forget)} -> {v.removed}")
            fa = sum(truth["per_class"][c] for c in forget) / len(forget)
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
                t.nulls_damaged += bool(v.damaged)
    return t


def _key(rule: VerdictRule, t: Tally) -> tuple:
    # declared: highest hit rate with FPR <= 5%; ties: lower FPR, fewer voters, fewer votes,
    # then the higher z cut, then the lower share of nulls an attack may flag
    return (
        -t.hits / max(t.models, 1),
        t.false_alarms / max(t.nulls, 1),
        len(rule.voters),
        rule.votes,
        -rule.z_cut,
        rule.max_fpr,
        -rule.rel_cut,
    )


def _pooled(tallies: list[Tally]) -> Tally:
    return sum(tallies, Tally())


def _best_grid(rules: list[VerdictRule], tallies: list[Tally]) -> int:
    """The declared grid choice: index of the highest hit rate with FPR <= 5% (see _key)."""
    ok = [i for i, t in enumerate(tallies) if t.false_alarms <= 0.05 * t.nulls]
    return min(ok, key=lambda i: _key(rules[i], tallies[i]))


def select() -> dict[str, Any]:
    """The third round's declared selection, on the development populations only."""
    by_pop = {pop: load_units(pop) for pop in DEVELOPMENT}
    units = [u for us in by_pop.values() for u in us]
    rules = candidates()
    grid = {pop: [tally(us, r) for r in rules] for pop, us in by_pop.items()}
    # (1) the family, leave one development population out
    grid_held: dict[str, Any] = {}
    held_tallies = []
    for held in DEVELOPMENT:
        rest = [_pooled([grid[p][j] for p in grid if p != held]) for j in range(len(rules))]
        i = _best_grid(rules, rest)
        held_tallies.append(grid[held][i])
        grid_held[held] = {"rule": asdict(rules[i]), **grid[held][i].rates()}
    grid_pooled = _pooled(held_tallies)
    rows = {pop: verdict_stack.model_rows(us) for pop, us in by_pop.items()}
    stacked_held = verdict_stack.held_out(rows)
    s = stacked_held["pooled"]
    stacked_wins = (
        s["false_alarms"] <= 0.05 * s["nulls"]
        and s["hits"] / s["models"] > grid_pooled.hits / grid_pooled.models
    )
    # (2) within the kept family, the choice on all three pooled
    pooled = [_pooled([grid[p][j] for p in grid]) for j in range(len(rules))]
    stacked_table: list[dict[str, Any]] = []
    if stacked_wins:
        cand, stacked_table = verdict_stack.choose(rows)
        stack = verdict_stack.fit([r for rs in rows.values() for r in rs], cand.features, cand.c)
        voters = tuple(stack.attacks())
        best = VerdictRule(voters, 1, 1.0, "stacked", cand.cut, *NO_DAMAGE, 0.0, stack)
    else:
        best = rules[_best_grid(rules, pooled)]
    damaged = []
    for feature, z in itertools.product(DAMAGED_FEATURES, DAMAGED_Z):
        t = tally(units, with_damage(best, feature, z))
        p = t.damaged_tp / max(t.damaged_tp + t.damaged_fp, 1)
        r = t.damaged_tp / max(t.damaged_tp + t.damaged_fn, 1)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        damaged.append((feature, z, f1, t))
    fit = [d for d in damaged if d[3].nulls_damaged <= NULL_DAMAGE_LIMIT * d[3].nulls]
    feature, z, f1, _ = max(fit, key=lambda d: (d[2], d[1]))
    chosen = with_damage(best, feature, z)
    payload = {
        "population": " + ".join(f"verdict-{p}" for p in DEVELOPMENT),
        "units": [u.name for u in units],
        "unlearned": sum(len(u.unlearned) for u in units),
        "nulls": sum(len(u.nulls) for u in units),
        "rule": asdict(chosen),
        "family": {
            "kept": "stacked" if stacked_wins else "grid",
            "grid_held_out": {
                "pooled": {k: v for k, v in grid_pooled.rates().items() if k in ("hit", "fpr")},
                "by_held_out": grid_held,
            },
            "stacked_held_out": stacked_held,
        },
        "removal_candidates": [
            {"rule": asdict(r), **{k: v for k, v in t.rates().items() if k in ("hit", "fpr")}}
            for r, t in zip(rules, pooled, strict=True)
        ],
        "stacked_candidates": stacked_table,
        "damaged_candidates": [
            {"feature": f, "z": zz, "f1": ff, **t.rates()} for f, zz, ff, t in damaged
        ],
        "damaged_f1": f1,
    }
    save("verdict_rule", payload)
    return payload


def report() -> dict[str, Any]:
    out: dict[str, Any] = {"rule": asdict(RULE), "populations": {}}
    for pop in FOLDERS:
        units = load_units(pop)
        if not units:
            continue
        by_unit = {u.name: tally([u], RULE) for u in units}
        rows = {"verdict": sum(by_unit.values(), Tally())}
        for a in ATTACKS:
            rows[a] = tally(units, alone(a))
        for name, rule in DIAGNOSTIC.items():  # other candidates, shown, never chosen here
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
            "forget_acc": mean([mean([t["per_class"][c] for c in t["forget"]]) for _, t in models]),
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
        + '. Third round (docs/protocol.md, "The verdict\'s third round"): chosen on '
        "`verdict-dev`, `verdict-dev2` and `verdict-dev3` (the earlier rounds' tests) pooled, "
        "reported on the fresh `verdict-test3`; each unit is one original audited with its 24 "
        "default null models, no forget set given. Hit: the removed set is exactly the forget "
        "set. False alarms: each null model judged with the other 23 as its nulls. Forgotten: "
        "models whose forget-set test accuracy is at most 0.2 (partly forgotten: above). 95% "
        "Wilson intervals.",
        "",
        "    python -m benchmarks.verdict_pop dev && python -m benchmarks.verdict_pop test",
        "    python -m benchmarks.verdict_pop test2 && python -m benchmarks.verdict_pop test3",
        "    python -m benchmarks.verdict select && python -m benchmarks.verdict report",
        "",
    ]
    chosen = load("verdict_rule")
    if chosen and "family" in chosen:
        fam = chosen["family"]
        g, st = fam["grid_held_out"]["pooled"], fam["stacked_held_out"]["pooled"]
        lines += [
            "The family, leave one development population out (each family's selection made on "
            f"two, scored on the third): the grid {_cell(g['hit'])} hits, {_cell(g['fpr'])} "
            f"false alarms; the stacked verdict {st['hits']}/{st['models']} hits, "
            f"{st['false_alarms']}/{st['nulls']} false alarms; kept: {fam['kept']}.",
            "",
        ]
    for n, (name, dev, test) in enumerate(
        [("verdict_round1", "`verdict-dev`", "test"), ("verdict_round2", "dev + dev2", "test2")]
    ):
        past = load(name)
        if not past:
            continue
        held = past["populations"][test]["rows"]["verdict"]
        lines += [
            f"{('First', 'Second')[n]} round (`benchmarks/results/{name}.json`): "
            f"{VerdictRule.from_dict(past['rule']).describe()}; chosen on {dev}, held out on "
            f"`verdict-{test}`: {_cell(held['hit'])} exact-set hits, {_cell(held['fpr'])} false "
            "alarms. That population is development now, and its rows below are development "
            "figures.",
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
        }
        lines += [
            f"**verdict-{pop}** ({role.get(pop, 'held out')}; {len(p['units'])} units: "
            f"{', '.join(p['units'])})",
            "",
            "| reading | exact-set hits | false alarms on nulls | forgotten | partly forgotten "
            "| damaged: precision | recall |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in p["rows"].items():
            label = (
                "**verdict**"
                if name == "verdict"
                else name
                if name in DIAGNOSTIC
                else f"{name} alone"
            )
            lines.append(
                f"| {label} | {_cell(r['hit'])} | {_cell(r['fpr'])} | {_cell(r['forgotten'])} | "
                f"{_cell(r['partly'])} | "
                + (
                    f"{_cell(r['damaged_precision'])} | {_cell(r['damaged_recall'])} |"
                    if name == "verdict"
                    else "- | - |"
                )
            )
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
            "By method: " + "; ".join(f"{m} {_cell(c)}" for m, c in p["by_method"].items()),
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


if __name__ == "__main__":
    {"select": select, "report": report}[sys.argv[1]]()

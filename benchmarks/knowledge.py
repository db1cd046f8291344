"""The parameter attacks under each knowledge mode (issue 23; docs/protocol.md, "The parameter
attacks' knowledge populations").

    python -m benchmarks.subsets --many                  # the 1000-a-class subsets, once
    python -m benchmarks.knowledge build dev [UNIT...]   # runs/knowledge/dev/<unit>/ (resumable)
    python -m benchmarks.knowledge build test [UNIT...]
    python -m benchmarks.knowledge select                # benchmarks/results/knowledge_rule.json
    python -m benchmarks.knowledge report                # benchmarks/results/knowledge.json
                                                         # and its section of docs/results.md

A unit is a public checkpoint (LeNet-5 trained on the other data set), the original fine-tuned
from it, the models unlearned from that original and its null models. Building a unit also
records every model's evidence under every mode (``evidence.json``), so selecting and reporting
replay stored evidence and train nothing.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import DATA_ROOT, ROOT, save
from unleak.evaluation.metrics import wilson

OUT = ROOT / "runs" / "knowledge"
log = logging.getLogger("benchmarks.knowledge")

DATA = {
    "mnist": "npz:runs/data/mnist_many_train.npz,runs/data/mnist_many_test.npz",
    "fashion": "npz:runs/data/fashion_many_train.npz,runs/data/fashion_many_test.npz",
}
NULLS = [
    "original",
    "prune@0.3",
    "noise@0.02",
    "noise@0.05",
    "brief@0.003",
    "brief@0.01",
    "brief@0.01#2",
    "head@0.01",
    "head@0.01#2",
    "tune@0.01",
]
MODES = ["kept", "labelled", "per-class", "public-init"]
ATTACKS = ["param-dot", "param-diff"]
GAPS = [0.5, 1.0, 1.5, 2.0, 3.0]  # the declared grid
MAX_DEV_FPR = 0.05
MAX_TEST_FPR = 0.10
PER_CLASS = 100


@dataclass(frozen=True)
class Unit:
    """One public checkpoint, the original fine-tuned from it, and what is unlearned from that."""

    dataset: str
    public: str
    seed: int
    methods: tuple[str, ...]
    sizes: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{self.dataset}-from-{self.public}-s{self.seed}"


DEV_METHODS = ("rt", "ft", "rl", "au", "ng")
TEST_METHODS = ("rt", "ft", "rl", "au", "ng", "scrub", "salun", "ssd")
POPULATIONS = {
    "dev": [Unit("mnist", "fashion", s, DEV_METHODS, (1, 1, 1, 2, 2, 2)) for s in (40, 41)],
    "test": [Unit("fashion", "mnist", s, TEST_METHODS, (1, 2, 3)) for s in (50, 51, 52)],
}


def forget_sets(unit: Unit, k: int) -> list[list[int]]:
    """The unit's forget sets, drawn with its seed (distinct within a size)."""
    out: list[list[int]] = []
    for j, size in enumerate(unit.sizes):
        gen = torch.Generator().manual_seed(unit.seed * 1000 + j)
        while True:
            f = sorted(torch.randperm(k, generator=gen)[:size].tolist())
            if f not in out:
                break
        out.append(f)
    return out


# -- building -------------------------------------------------------------------------------------
def _data(name: str) -> Any:
    import unleak as ul

    return ul.data.load(DATA[name], ROOT)


def _trained(unit: Unit) -> tuple[Any, Any, Any, Any, Any]:
    """The public checkpoint, the original fine-tuned from it, its recipe and recorded updates."""
    from unleak import models
    from unleak.experiments.model_cache import train_config_for
    from unleak.training import fit
    from unleak.unlearning.au import UpdateRecorder

    data, pub = _data(unit.dataset), _data(unit.public)
    public = models.build("lenet5", pub, seed=unit.seed)
    fit(public, pub.train, train_config_for(pub, "lenet5", unit.seed))
    public.eval()
    cfg = train_config_for(data, "lenet5", unit.seed + 1)
    original = copy.deepcopy(public)
    recorder = UpdateRecorder(0)
    fit(original, data.train, cfg, callbacks=[recorder])
    return data, public, original.eval(), cfg, recorder.log()


def _models(unit: Unit, data: Any, public: Any, original: Any, cfg: Any, updates: Any) -> Any:
    """(name, model, forget set, method) of every unlearned and null model of the unit."""
    import unleak as ul
    from unleak.experiments.nulls import build_null, null_config
    from unleak.training import fit

    k = data.num_classes
    for method in unit.methods:
        for forget in forget_sets(unit, k):
            retain, fsplit = data.train.split_classes(forget)
            if method == "rt":  # the owner retrains from the checkpoint it started from
                model = copy.deepcopy(public)
                fit(model, retain, cfg.model_copy(update={"seed": unit.seed + 2}))
                model.eval()
            else:
                model = ul.unlearning.run_unlearning(
                    method,
                    original,
                    retain,
                    fsplit,
                    None,
                    dataset=data.name,
                    seed=unit.seed,
                    original_config=cfg,
                    updates=updates if method == "au" else None,
                ).model
            yield f"{method}-{'.'.join(map(str, forget))}", model, forget, method
    for kind in NULLS:
        ncfg = null_config(kind, cfg, data, "lenet5", unit.seed)
        yield f"null-{kind}", build_null(kind, original, cfg, data, ncfg), [], "null"


def _evidence(model: Any, forget: list[int], data: Any, public: Any, cfg: Any, seed: int) -> dict:
    """Every attack's evidence under every mode, and oracle's, on ``model``."""
    from unleak import attacks as atk
    from unleak.attacks.class_aux import every_class
    from unleak.experiments.attackers import build_attack, handle
    from unleak.experiments.harness import AttackContext
    from unleak.experiments.settings import AttackSpec, ExperimentConfig

    ctx = AttackContext.of(ExperimentConfig(data_root=str(DATA_ROOT)), data, "lenet5", seed, None)
    labelled = every_class(data.test, PER_CLASS, seed)
    out: dict[str, Any] = {}
    for mode in MODES:
        base = ctx.knowledge(forget)
        know = (
            base
            if mode == "kept"
            else atk.Knowledge(
                task=data.name,
                known_data=labelled,
                data_root=str(DATA_ROOT),
                mode=mode,
                public_init=atk.PublicInit(public, cfg) if mode == "public-init" else None,
                seed=seed,
            )
        )
        for name in ATTACKS:
            spec = AttackSpec(attack=name)
            attack = build_attack(spec, know, num_forgotten=1)
            t = time.perf_counter()
            feats = attack.evidence(handle(spec.attack_class.requires, model, data, None, None))
            out[f"{name}|{mode}"] = _stored(feats, time.perf_counter() - t)
    oracle = build_attack(
        AttackSpec(attack="oracle"), atk.Knowledge(labelled_data=labelled, seed=seed)
    )
    feats = oracle.evidence(handle(oracle.requires, model, data, None, None))
    out["oracle"] = _stored(feats, 0.0)
    return out


def _stored(feats: Any, seconds: float) -> dict[str, Any]:
    return {
        "values": feats.values.tolist(),
        "names": feats.names,
        "candidates": feats.candidates.tolist(),
        "main": feats.main,
        "absolute": feats.absolute,
        "seconds": seconds,
    }


def build_unit(unit: Unit, out: Path) -> None:
    from unleak.models.inference import per_class_accuracy

    t0 = time.perf_counter()
    data, public, original, cfg, updates = _trained(unit)
    k = data.num_classes
    record: dict[str, Any] = {
        "unit": unit.name,
        "original": per_class_accuracy(original, data.test.x, data.test.y, k).tolist(),
        "train_seconds": time.perf_counter() - t0,
        "models": {},
    }
    for name, model, forget, method in _models(unit, data, public, original, cfg, updates):
        t = time.perf_counter()
        record["models"][name] = {
            "method": method,
            "forget": forget,
            "per_class": per_class_accuracy(model, data.test.x, data.test.y, k).tolist(),
            "evidence": _evidence(model, forget, data, public, cfg, unit.seed),
            "seconds": time.perf_counter() - t,
        }
        log.warning("%s %s: %.0f s", unit.name, name, time.perf_counter() - t)
    record["seconds"] = time.perf_counter() - t0
    tmp = out / "evidence.json.tmp"
    tmp.write_text(json.dumps(record) + "\n")
    tmp.replace(out / "evidence.json")


def build(population: str, names: list[str]) -> None:
    torch.set_num_threads(1 if names else 2)
    for unit in POPULATIONS[population]:
        if names and unit.name not in names:
            continue
        out = OUT / population / unit.name
        if (out / "evidence.json").is_file():
            continue
        out.mkdir(parents=True, exist_ok=True)
        build_unit(unit, out)


# -- replaying stored evidence --------------------------------------------------------------------
def load(population: str) -> list[dict[str, Any]]:
    """Every unit's record; a missing unit is an error (a table of a part is not the table)."""
    units = []
    for unit in POPULATIONS[population]:
        path = OUT / population / unit.name / "evidence.json"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: run python -m benchmarks.knowledge build")
        units.append(json.loads(path.read_text()))
    return units


def features(stored: dict[str, Any]) -> Any:
    from unleak.attacks.evidence import ClassFeatures

    return ClassFeatures(
        values=np.array(stored["values"]),
        names=stored["names"],
        candidates=np.array(stored["candidates"]),
        main=stored["main"],
        absolute=stored["absolute"],
    )


def decider_of(key: str, rule: dict[str, Any] | None, calibration: Any = None) -> Any:
    """The decider a row is read with: the attack's frozen rule (``rule`` None), a gap of the
    grid, or the tree on ``calibration``."""
    from unleak import attacks as atk
    from unleak.attacks.deciders import make_decider

    if calibration is not None:
        return make_decider("tree", calibration=calibration)
    if key == "oracle":
        return make_decider(atk.attack_class("oracle").default_decider)
    if rule is None:
        name, mode = key.split("|")
        frozen = atk.attack_class(name).rules[mode]
        return make_decider(frozen.decider, **frozen.decider_args())
    return make_decider("kmeans", gap=rule["gap"])


def rate(k: int, n: int) -> dict[str, float]:
    lo, hi = wilson(k, n)
    return {"rate": k / n if n else float("nan"), "lo": lo, "hi": hi}


@dataclass
class Tally:
    hits: int = 0
    n: int = 0
    false_alarms: int = 0
    nulls: int = 0

    def row(self) -> dict[str, Any]:
        asr, fpr = rate(self.hits, self.n), rate(self.false_alarms, self.nulls)
        return {
            "asr": asr,
            "hits": self.hits,
            "n": self.n,
            "fpr": fpr,
            "false_alarms": self.false_alarms,
            "nulls": self.nulls,
        }


def tally(units: list[dict[str, Any]], key: str, decider: Any, only: str | None = None) -> Tally:
    """Exact-set hits on the unlearned models (of method ``only``) and false alarms on the nulls."""
    t = Tally()
    for unit in units:
        for model in unit["models"].values():
            predicted, _ = decider.decide(features(model["evidence"][key]))
            if model["method"] == "null":
                if only is None:
                    t.nulls += 1
                    t.false_alarms += bool(predicted)
            elif only is None or model["method"] == only:
                t.n += 1
                t.hits += set(predicted) == set(model["forget"])
    return t


def calibration_of(units: list[dict[str, Any]], key: str) -> Any:
    from unleak import attacks as atk

    runs = [
        (features(m["evidence"][key]), tuple(m["forget"]))
        for u in units
        for m in u["models"].values()
    ]
    return atk.Calibration(source=f"knowledge-dev rows of {key}", runs=runs)


def tree_dev(units: list[dict[str, Any]], key: str) -> Tally:
    """The tree's dev figure, leave one unit out."""
    total = Tally()
    for i, unit in enumerate(units):
        rest = [u for j, u in enumerate(units) if j != i]
        part = tally([unit], key, decider_of(key, None, calibration_of(rest, key)))
        total = Tally(
            total.hits + part.hits,
            total.n + part.n,
            total.false_alarms + part.false_alarms,
            total.nulls + part.nulls,
        )
    return total


def keys() -> list[str]:
    return [f"{a}|{m}" for m in MODES for a in ATTACKS]


def select() -> dict[str, Any]:
    """Each non-default mode's gap, chosen on knowledge-dev by the declared selection rule."""
    dev = load("dev")
    chosen: dict[str, Any] = {}
    for key in keys():
        if key.endswith("|kept"):
            continue
        grid = []
        for gap in GAPS:
            t = tally(dev, key, decider_of(key, {"gap": gap}))
            grid.append({"gap": gap, **t.row()})
        ok = [g for g in grid if g["fpr"]["rate"] <= MAX_DEV_FPR] or grid
        best = max(g["hits"] for g in ok)
        tied = [g for g in ok if g["hits"] == best]
        low = min(g["false_alarms"] for g in tied)
        tied = [g for g in tied if g["false_alarms"] == low]
        pick = tied[(len(tied) - 1) // 2]  # the middle constant of the tied range
        chosen[key] = {"gap": pick["gap"], "dev": pick, "grid": grid}
    payload = {"population": "knowledge-dev", "max_dev_fpr": MAX_DEV_FPR, "rules": chosen}
    save("knowledge_rule", payload)
    return payload


def report() -> dict[str, Any]:
    """Dev and test rows of every attack and mode at its frozen rule, and of the tree."""
    from unleak.evaluation.metrics import chance

    dev, test = load("dev"), load("test")
    rows: list[dict[str, Any]] = []
    for key in [*keys(), "oracle"]:
        for reading in ("rule", "tree"):
            if reading == "tree" and key == "oracle":
                continue
            if reading == "rule":
                d_dev = d_test = decider_of(key, None)
                dev_t = tally(dev, key, d_dev)
            else:
                d_test = decider_of(key, None, calibration_of(dev, key))
                dev_t = tree_dev(dev, key)
            test_t = tally(test, key, d_test)
            attack, _, mode = key.partition("|")
            rows.append(
                {
                    "attack": attack,
                    "mode": mode or "labelled",
                    "decider": reading,
                    "dev": dev_t.row(),
                    "test": test_t.row(),
                    "test_by_method": {
                        m: tally(test, key, d_test, only=m).row() for m in TEST_METHODS
                    },
                }
            )
    payload = {
        "populations": {
            p: {
                "units": [u["unit"] for u in units],
                "models": sum(m["method"] != "null" for u in units for m in u["models"].values()),
                "nulls": sum(m["method"] == "null" for u in units for m in u["models"].values()),
                "chance": float(
                    np.mean(
                        [
                            chance(10, len(m["forget"]))
                            for u in units
                            for m in u["models"].values()
                            if m["method"] != "null"
                        ]
                    )
                ),
                **efficacy(units),
            }
            for p, units in (("dev", dev), ("test", test))
        },
        "rows": rows,
    }
    save("knowledge", payload)
    return payload


def efficacy(units: list[dict[str, Any]]) -> dict[str, float]:
    """Mean forget and retained test accuracy of the attacked (unlearned) models."""
    fa, ra = [], []
    for u in units:
        for m in u["models"].values():
            if m["method"] == "null":
                continue
            acc = np.array(m["per_class"])
            mask = np.isin(np.arange(len(acc)), m["forget"])
            fa.append(acc[mask].mean())
            ra.append(acc[~mask].mean())
    return {"forget_acc": float(np.mean(fa)), "retain_acc": float(np.mean(ra))}


TITLE = "## The parameter attacks under each knowledge mode (issue 23)"
UNSEEN = ("scrub", "salun", "ssd")


def cell(r: dict[str, Any], what: str = "asr") -> str:
    k, n = (r["hits"], r["n"]) if what == "asr" else (r["false_alarms"], r["nulls"])
    c = r[what]
    if not n:
        return "-"
    return f"{100 * c['rate']:.0f}% [{100 * c['lo']:.0f}-{100 * c['hi']:.0f}] ({k}/{n})"


def unseen(r: dict[str, Any]) -> dict[str, Any]:
    """The test row on the methods development never saw."""
    hits = sum(r["test_by_method"][m]["hits"] for m in UNSEEN)
    n = sum(r["test_by_method"][m]["n"] for m in UNSEEN)
    return {"hits": hits, "n": n, "asr": rate(hits, n)}


def section(d: dict[str, Any] | None) -> str:
    """The docs/results.md section of ``knowledge.json``."""
    head = f"{TITLE}\n\n"
    if not d:
        return head + "Not measured yet: `python -m benchmarks.knowledge report`.\n"
    pops = d["populations"]
    dev, test = pops["dev"], pops["test"]
    lines = [
        head,
        "The paper's parameter attacks under each knowledge mode an attacker may hold "
        "(`knowledge: {mode: ...}` in configs, `unleak attack --knowledge MODE`; docs/design.md, "
        '"Knowledge modes"). Populations declared in docs/protocol.md before they were built: '
        f"`knowledge-dev` ({dev['models']} unlearned and {dev['nulls']} null LeNet-5 models on "
        "MNIST, fine-tuned from a public checkpoint trained on Fashion-MNIST) chose each mode's "
        f"gap; `knowledge-test` ({test['models']} unlearned and {test['nulls']} null models on "
        "Fashion-MNIST, from a checkpoint trained on MNIST, with SCRUB, SalUn and SSD beside the "
        "paper's five) reports it. Each mode's rule is k-means with the gap chosen on dev; the "
        "tree is the paper's decision tree fitted on dev's rows (the attacker's shadow models; its "
        "dev figure is leave-one-unit-out). oracle holds the same 100 test samples a class as "
        "the labelled, per-class and public-init attackers: the gap to it is what the attack adds. "
        "Exact-set ASR and null FPR with 95% Wilson intervals.\n\n",
        "    python -m benchmarks.knowledge build dev\n"
        "    python -m benchmarks.knowledge build test\n"
        "    python -m benchmarks.knowledge select && python -m benchmarks.knowledge report\n\n",
        f"Chance of an exact guess: {100 * dev['chance']:.1f}% (dev), {100 * test['chance']:.1f}% "
        f"(test), told nothing. Attacked models: forget accuracy {dev['forget_acc']:.2f} and "
        f"retained {dev['retain_acc']:.2f} on dev, {test['forget_acc']:.2f} and "
        f"{test['retain_acc']:.2f} on test.\n\n",
        "| attack | mode | rule | dev ASR | dev FPR | test ASR | test FPR | test, methods dev "
        "never saw |\n|---|---|---|---|---|---|---|---|\n",
    ]
    for r in d["rows"]:
        rule = "frozen" if r["decider"] == "rule" else "tree on dev rows"
        if r["attack"] == "oracle":
            rule = "frozen (a bound)"
        u = unseen(r)
        u_cell = cell({"hits": u["hits"], "n": u["n"], "asr": u["asr"]})
        lines.append(
            f"| {r['attack']} | {r['mode']} | {rule} | {cell(r['dev'])} | "
            f"{cell(r['dev'], 'fpr')} | {cell(r['test'])} | {cell(r['test'], 'fpr')} | "
            f"{u_cell} |\n"
        )
    lines.append("\nTest ASR by method (frozen rules):\n\n")
    methods = list(TEST_METHODS)
    lines.append("| attack | mode | " + " | ".join(methods) + " |\n")
    lines.append("|---|---|" + "---|" * len(methods) + "\n")
    for r in d["rows"]:
        if r["decider"] != "rule":
            continue
        by = r["test_by_method"]
        lines.append(
            f"| {r['attack']} | {r['mode']} | "
            + " | ".join(
                f"{100 * by[m]['asr']['rate']:.0f}% ({by[m]['n']})" if by[m]["n"] else "-"
                for m in methods
            )
            + " |\n"
        )
    if d.get("summary"):
        lines.append("\n" + d["summary"] + "\n")
    return "".join(lines)


def stored_section() -> str:
    """The section from benchmarks/results/knowledge.json (for a full rebuild of results.md)."""
    from benchmarks.common import load as load_result

    return section(load_result("knowledge"))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    verb = sys.argv[1]
    if verb == "build":
        build(sys.argv[2], sys.argv[3:])
    elif verb == "select":
        json.dump(select(), sys.stdout, indent=1)
    elif verb == "report":
        from benchmarks.docs import splice_section

        splice_section(section(report()), TITLE, before="## ResNet-18 at CPU")
    else:
        raise SystemExit("usage: python -m benchmarks.knowledge build dev|test | select | report")

"""Choose every attack's constants on the development population, and freeze them.

    python -m benchmarks.calibrate   # runs/sweeps/dev-*/ -> benchmarks/results/calibration.json

For each attack, every reading of its evidence (criterion), decider and constant in the grid below
is replayed on the stored per-class evidence of the development sweeps (dev-digits, dev-mnist:
the paper's five methods, seed 0, and their null models). The rule kept is the one with the
highest exact-set ASR whose false-positive rate on the development nulls is at most 5%; among
rules that tie, the middle constant of the tied range (the widest margin on both sides). The
chosen values are the defaults in the code (tests/test_protocol.py checks they agree); the test
population (docs/protocol.md) never enters this choice.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, ROOT
from unleak.attacks.deciders import KMeansGap, LargestGap, Threshold
from unleak.attacks.evidence import ClassFeatures
from unleak.experiments.sweep import load_results

DEV = ("dev-digits", "dev-mnist")
MAX_FPR = 0.05

# attack -> reading (feature) -> whether its scale is absolute (a cut in its own unit)
READINGS: dict[str, dict[str, bool]] = {
    "probe-reach": {"reach": True, "rarity": False},
    "param-diff": {"diff": False, "gain": False},
    "param-dot": {"cos": True},
    "wb-inversion": {"deficit": True, "confidence": True, "entropy": True},
    "bb-genetic": {"deficit": True, "confidence": True, "entropy": True},
}
CUTS = [0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0]
Z = [2.0, 2.5, 3.0, 3.5, 4.0, 5.0]
GAPS = [0.5, 1.0, 1.5, 2.0, 3.0]


def rules(absolute: bool) -> list[tuple[str, float, Any]]:
    """(decider, constant, factory(evidence) -> decider) over the grid."""
    out: list[tuple[str, float, Any]] = []
    if absolute:
        for cut in CUTS:
            out.append(("threshold", cut, lambda cut=cut: Threshold(cut=cut)))
            out.append(("kmeans", cut, lambda: KMeansGap(gap=1.0)))
            out.append(("gap", cut, lambda: LargestGap(gap=2.0)))
    else:
        for z in Z:
            out.append(("threshold", z, lambda z=z: Threshold(z=z)))
        for g in GAPS:
            out.append(("kmeans", g, lambda g=g: KMeansGap(gap=g)))
            out.append(("gap", g, lambda g=g: LargestGap(gap=g)))
    return out


Row = tuple[list[int], dict, np.ndarray]  # true forget set, features by name, candidate mask


def evidence_rows(names: tuple[str, ...] = DEV) -> dict[str, list[Row]]:
    """attack -> [(true forget set, features, candidates)], one per model (the first row of each
    evidence: every decider of one attack reads the same features)."""
    out: dict[str, list[Row]] = defaultdict(list)
    seen = set()
    for name in names:
        path = ROOT / "runs" / "sweeps" / name
        if not (path / "results.sqlite").is_file():
            continue
        for r in load_results(path):
            if r.attack not in READINGS or r.error or not r.features or r.defence:
                continue
            key = (name, r.run_key, r.attack)
            if key in seen:
                continue
            seen.add(key)
            k = len(next(iter(r.features.values())))
            mask = np.zeros(k, bool)
            mask[r.candidates] = True
            out[r.attack].append((list(r.forget), r.features, mask))
    return out


def evaluate(
    rows: list[Row], feature: str, cut: float | None, make: Any
) -> tuple[float, float, int, int]:
    hits, n, fps, nulls = 0, 0, 0, 0
    for forget, feats, candidates in rows:
        values = np.array(feats[feature], dtype=float)[:, None]
        ev = ClassFeatures(values, [feature], candidates, absolute=cut)
        predicted, _ = make().decide(ev)
        if forget:
            n += 1
            hits += sorted(predicted) == sorted(forget)
        else:
            nulls += 1
            fps += bool(predicted)
    return hits / max(n, 1), fps / max(nulls, 1), n, nulls


def choose(results: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in results if r["fpr"] <= MAX_FPR] or results
    best = max(r["asr"] for r in ok)
    tied = [r for r in ok if r["asr"] == best]
    low = min(r["fpr"] for r in tied)
    tied = [r for r in tied if r["fpr"] == low]
    # among equal rules, the reading and decider most often tied, then the middle constant
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in tied:
        groups[(r["reading"], r["decider"])].append(r)
    group = max(groups.values(), key=len)
    constants = sorted(r["constant"] for r in group)
    middle = statistics.median_low(constants)
    return next(r for r in group if r["constant"] == middle)


def main() -> dict[str, Any]:
    data = evidence_rows()
    report: dict[str, Any] = {"populations": list(DEV), "max_fpr": MAX_FPR, "attacks": {}}
    for attack, readings in READINGS.items():
        rows = data.get(attack, [])
        if not rows:
            continue
        results = []
        for feature, absolute in readings.items():
            if feature not in rows[0][1]:
                continue
            for decider, constant, make in rules(absolute):
                cut = constant if absolute else None
                asr, fpr, n, nulls = evaluate(rows, feature, cut, make)
                results.append(
                    {
                        "reading": feature,
                        "decider": decider,
                        "constant": constant,
                        "absolute": absolute,
                        "asr": round(asr, 4),
                        "fpr": round(fpr, 4),
                        "n": n,
                        "nulls": nulls,
                    }
                )
        report["attacks"][attack] = {"chosen": choose(results), "grid": results}
        c = report["attacks"][attack]["chosen"]
        print(
            f"{attack:14s} {c['reading']:10s} {c['decider']:9s} {c['constant']:5g} "
            f"ASR {100 * c['asr']:5.1f} (n {c['n']})  FPR {100 * c['fpr']:4.1f} (n {c['nulls']})"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "calibration.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()

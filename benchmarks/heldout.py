"""The held-out table: each attack's frozen rule (benchmarks/calibrate.py, development population
only) replayed on the stored per-class evidence of every model, development and test population
side by side. Also the slices of the test population and leakage against utility.

    python -m benchmarks.heldout      # -> benchmarks/results/heldout.json (docs.py renders it)

Populations (docs/protocol.md):
- development: runs/sweeps/dev-digits, dev-mnist (digits and MNIST, the paper's five methods,
  seed 0), the only data the constants saw;
- test: runs/sweeps/test-methods, test-archs, test-defences, test-defences-fashion, test-nulls,
  and the committed grids mnist (seeds 1 and 2 only: seed 0 is development's) and fashion-mnist
  (a data set development never saw).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.calibrate import READINGS, rules
from benchmarks.common import DOCS, RESULTS, ROOT, machine, with_findings
from unleak.attacks.evidence import ClassFeatures
from unleak.evaluation.metrics import chance, wilson
from unleak.experiments.sweep import expand, load_results, load_sweep_config

DEV = ("dev-digits", "dev-mnist")
TEST = (
    "test-methods",
    "test-archs",
    "test-defences",
    "test-defences-fashion",
    "test-nulls",
    "mnist",
    "fashion-mnist",
    "test-resnet18-cpu",
    "test-many-classes",
)
PAPER = {"rt", "ft", "rl", "au", "ng"}


def frozen() -> dict[str, dict[str, Any]]:
    """The rule chosen per attack on the development population."""
    cal = json.loads((RESULTS / "calibration.json").read_text())
    return {a: v["chosen"] for a, v in cal["attacks"].items()}


def slice_of(sweep: str, row: Any) -> str | None:
    """Which part of which population a model belongs to (None: not in the table)."""
    if sweep in DEV:
        return "development"
    if sweep == "mnist" and row.seed == 0:
        return None  # seed 0 of MNIST is development's
    if row.defence:
        return f"defence {row.defence}"
    if sweep == "test-archs":
        return f"architecture {row.model.split(':')[-1]}"
    if sweep == "test-resnet18-cpu":
        return "resnet18 (batch norm), cifar-10 and svhn subsets"
    if sweep == "test-many-classes":
        return "many forgotten classes (|F| 1-9), mnist and fashion-mnist subsets"
    if row.dataset == "fashion-mnist":
        return "fashion-mnist (unseen data set)"
    if sweep == "test-nulls":
        return "more null kinds, seeds 2-3"
    method = row.method
    if row.kind == "null":
        return "paper methods, other seeds" if sweep == "mnist" else "new methods and variants"
    if "@authors" in method:
        return "authors' settings"
    if "@" in method:
        return "variants that do not kill the class"
    if method in PAPER:
        return "paper methods, other seeds"
    return "new methods (our recipes)"


def decide(rule: dict[str, Any], features: dict, candidates: list[int]) -> list[int]:
    feature, decider, constant = rule["reading"], rule["decider"], rule["constant"]
    absolute = READINGS_FLAT[feature]
    make = next(m for d, c, m in rules(absolute) if d == decider and c == constant)
    values = np.array(features[feature], dtype=float)[:, None]
    mask = np.zeros(len(values), bool)
    mask[candidates] = True
    ev = ClassFeatures(values, [feature], mask, absolute=constant if absolute else None)
    return make().decide(ev)[0]


READINGS_FLAT = {f: a for readings in READINGS.values() for f, a in readings.items()}


def identity(r: Any, config: Any) -> str:
    """What makes a model: two sweeps that name the same one (same data set, architecture, seed,
    method or null kind, forget set, defence and overrides) built the same bytes, so it is one
    model of the population, counted once (e.g. test-defences' undefended seed-1 models)."""
    return json.dumps(
        [
            r.dataset,
            r.model,
            r.seed,
            r.kind,
            r.method,
            sorted(r.forget),
            r.defence,
            config.train.get(r.dataset),
            config.unlearn.get(r.method),
            config.defence_settings.get(r.defence) if r.defence else None,
        ],
        sort_keys=True,
        default=str,
    )


def collect() -> list[dict[str, Any]]:
    """One record per (model, attack): population, slice, truth, frozen decision, efficacy.

    A model stored by more than one sweep is taken from the first (in DEV + TEST order), and
    one row per attack (its deciders share the evidence)."""
    rules_ = frozen()
    records = []
    taken: set[tuple[str, str]] = set()  # (model identity, attack)
    for sweep in (*DEV, *TEST):
        path = ROOT / "runs" / "sweeps" / sweep
        if not (path / "results.sqlite").is_file():
            continue
        config = load_sweep_config(ROOT / "benchmarks" / "sweeps" / f"{sweep}.yaml")
        for r in load_results(path):
            if r.attack not in rules_ or r.error or not r.features:
                continue
            ident = identity(r, config)
            if (ident, r.attack) in taken:
                continue
            taken.add((ident, r.attack))
            part = slice_of(sweep, r)
            if part is None:
                continue
            predicted = decide(rules_[r.attack], r.features, r.candidates)
            records.append(
                {
                    "sweep": sweep,
                    "id": ident,
                    "population": "development" if part == "development" else "test",
                    "slice": part,
                    "dataset": r.dataset,
                    "model": r.model,
                    "method": r.method,
                    "defence": r.defence,
                    "kind": r.kind,
                    "attack": r.attack,
                    "forget": r.forget,
                    "predicted": predicted,
                    "hit": sorted(predicted) == sorted(r.forget),
                    "flagged": bool(predicted),
                    "chance": chance(len(r.candidates), len(r.forget)) if r.forget else None,
                    "forget_acc": r.forget_acc,
                    "retain_acc": r.retain_acc,
                    "queries": r.queries,
                }
            )
    return records


def rate(records: list[dict[str, Any]], key: str) -> dict[str, Any]:
    n = len(records)
    k = sum(bool(r[key]) for r in records)
    lo, hi = wilson(k, n) if n else (float("nan"), float("nan"))
    return {"rate": k / n if n else None, "lo": lo, "hi": hi, "n": n, "k": k}


def grouped(
    records: list[dict[str, Any]], by: str, keep: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Per attack and value of ``by`` over the records ``keep`` admits: ASR on the unlearned
    models (exact set), FPR on the null models, the chance of the unlearned ones."""
    out: dict[str, Any] = defaultdict(dict)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if keep(r):
            groups[(r["attack"], r[by])].append(r)
    for (attack, part), rows in sorted(groups.items()):
        real = [r for r in rows if r["kind"] == "unlearned"]
        nulls = [r for r in rows if r["kind"] == "null"]
        out[attack][part] = {
            "asr": rate(real, "hit"),
            "fpr": rate(nulls, "flagged"),
            "chance": float(np.mean([r["chance"] for r in real])) if real else None,
        }
    return dict(out)


def table(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per attack and population; defended models are a slice of their own, not the figure."""
    return grouped(records, "population", lambda r: not r["defence"])


def unseen_methods(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per attack: ASR on the test models unlearned by anything but the paper's five methods
    (development's), i.e. the unlearning nobody tuned the attacks for. The pooled test ASR leans
    on how many paper-method models the test sweeps hold; this figure does not."""
    return grouped(
        records,
        "population",
        lambda r: (
            r["population"] == "test"
            and not r["defence"]
            and r["kind"] == "unlearned"
            and r["method"] not in PAPER
        ),
    )


def by_dataset(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per attack and test data set (no defence), with the number of null models."""
    return grouped(records, "dataset", lambda r: r["population"] == "test" and not r["defence"])


def slices(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per attack and slice of the test population."""
    return grouped(records, "slice", lambda r: r["population"] == "test")


def utility(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leakage against utility: per data set, method and defence, each attack's ASR beside the
    models' retained and forget accuracy, and the attack's FPR on null models with the same
    defence."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    null_groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        pop = r["population"]
        if r["kind"] == "null":
            null_groups[(pop, r["dataset"], r["defence"] or "", r["attack"])].append(r)
        else:
            groups[(pop, r["dataset"], r["method"], r["defence"] or "", r["attack"])].append(r)
    out = []
    for (pop, dataset, method, defence, attack), rows in sorted(groups.items()):
        nulls = null_groups.get((pop, dataset, defence, attack), [])
        out.append(
            {
                "population": pop,
                "dataset": dataset,
                "method": method,
                "defence": defence or "none",
                "attack": attack,
                "asr": rate(rows, "hit"),
                "fpr": rate(nulls, "flagged"),
                "retain_acc": float(np.nanmean([r["retain_acc"] for r in rows])),
                "forget_acc": float(np.nanmean([r["forget_acc"] for r in rows])),
            }
        )
    return out


def main() -> dict[str, Any]:
    records = collect()
    report = {
        "rules": frozen(),
        "table": table(records),
        "slices": slices(records),
        "datasets": by_dataset(records),
        "unseen_methods": unseen_methods(records),
        "utility": utility(records),
        "models": {
            pop: len({r["id"] for r in records if r["population"] == pop})
            for pop in ("development", "test")
        },
    }
    report["machine"] = machine()
    report["sweeps"] = {
        name: _count(name) for name in (*DEV, *TEST) if (ROOT / "runs" / "sweeps" / name).is_dir()
    }
    (RESULTS / "heldout.json").write_text(json.dumps(report, indent=1) + "\n")
    splice(render(report))
    for attack, pops in report["table"].items():
        parts = []
        for pop in ("development", "test"):
            if pop in pops:
                a, f = pops[pop]["asr"], pops[pop]["fpr"]
                asr = "-" if a["rate"] is None else f"{100 * a['rate']:.1f} (n {a['n']})"
                fpr = "-" if f["rate"] is None else f"{100 * f['rate']:.1f} <= {100 * f['hi']:.1f}"
                parts.append(f"{pop[:4]} ASR {asr} FPR {fpr} (n {f['n']})")
        print(f"{attack:13s} " + " | ".join(parts))
    return report


def _count(name: str) -> dict[str, int]:
    """Runs stored against runs the sweep's grid holds (a sweep may have been cut short)."""
    config = load_sweep_config(ROOT / "benchmarks" / "sweeps" / f"{name}.yaml")
    done = {r.run_key for r in load_results(ROOT / "runs" / "sweeps" / name)}
    return {"done": len(done), "grid": len(expand(config))}


def _pct(v: dict[str, Any]) -> str:
    if not v["n"]:
        return "-"
    return f"{100 * v['rate']:.0f} [{100 * v['lo']:.0f}-{100 * v['hi']:.0f}] (n {v['n']})"


def _rule(rule: dict[str, Any]) -> str:
    unit = "cut" if rule["absolute"] else ("z" if rule["decider"] == "threshold" else "gap")
    return f"{rule['reading']}, {rule['decider']}, {unit} {rule['constant']:g}"


def render(report: dict[str, Any]) -> str:
    """The held-out section of docs/results.md."""
    lines = [
        "## Held-out evaluation (issue 13)",
        "",
        "Each attack's decision rule (reading, decider, constant) was chosen on the development "
        "population alone (`python -m benchmarks.calibrate`, rule: highest exact-set ASR with FPR "
        "<= 5% on the development null models) and frozen in the code; the test population "
        "below never entered that choice (docs/protocol.md). `python -m benchmarks.heldout` "
        "replays the frozen rules on the stored per-class evidence of every model. ASR: share of "
        "unlearned models whose predicted set is exactly the forgotten set; FPR: share of null "
        "models (nothing forgotten) on which the attack named any class; brackets: 95% Wilson "
        "intervals; chance: a uniform guess of the right number of classes. Models under a defence "
        "are left out of this table and reported in the slices and the utility table below. "
        "The pooled test ASR depends on the mix of the test sweeps (the MNIST and Fashion-MNIST "
        "grids add many models of the paper's five methods, development's); the column 'test "
        "ASR, other methods' counts only models unlearned by the methods, variants and settings "
        "development never saw.",
        "",
        f"Models: {report['models'].get('development', 0)} development, "
        f"{report['models'].get('test', 0)} test. Sweeps (runs stored / runs in the grid): "
        + ", ".join(f"{k} {v['done']}/{v['grid']}" for k, v in report["sweeps"].items())
        + f". Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
        f"commit {report['machine']['commit']}.",
        "",
        "| attack | frozen rule | dev ASR % | test ASR % | test ASR, other methods % "
        "| test chance % | dev FPR % | test FPR % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    empty = {"asr": {"n": 0}, "fpr": {"n": 0}, "chance": None}
    for attack, pops in report["table"].items():
        dev, test = pops.get("development", empty), pops.get("test", empty)
        odds = "-" if test["chance"] is None else f"{100 * test['chance']:.0f}"
        other = report["unseen_methods"].get(attack, {}).get("test", empty)
        lines.append(
            f"| {attack} | {_rule(report['rules'][attack])} | {_pct(dev['asr'])} "
            f"| {_pct(test['asr'])} | {_pct(other['asr'])} | {odds} | {_pct(dev['fpr'])} "
            f"| {_pct(test['fpr'])} |"
        )
    lines += [
        "",
        "### Test population, data set by data set",
        "",
        "Models without a defence. The FPR's n is the number of null models of that data set in "
        "the test population (issue 13 asks for at least 30 of many kinds).",
        "",
        "| attack | data set | ASR % | FPR % |",
        "|---|---|---|---|",
    ]
    for attack, parts in report.get("datasets", {}).items():
        for dataset, v in parts.items():
            lines.append(f"| {attack} | {dataset} | {_pct(v['asr'])} | {_pct(v['fpr'])} |")
    lines += [
        "",
        "### Test population, slice by slice",
        "",
        "| attack | slice | ASR % | FPR % |",
        "|---|---|---|---|",
    ]
    for attack, parts in report["slices"].items():
        for part, v in parts.items():
            lines.append(f"| {attack} | {part} | {_pct(v['asr'])} | {_pct(v['fpr'])} |")
    lines += [
        "",
        "### Leakage against utility",
        "",
        "Per data set, method and defence: each attack's ASR beside the attacked models' mean "
        "retained accuracy and forget accuracy (the unlearning efficacy), and its FPR on null "
        "models under the same defence.",
        "",
        "| population | data set | method | defence | attack | ASR % | FPR % | retained acc "
        "| forget acc |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for u in report["utility"]:
        lines.append(
            f"| {u['population'][:4]} | {u['dataset']} | {u['method']} | {u['defence']} "
            f"| {u['attack']} "
            f"| {_pct(u['asr'])} | {_pct(u['fpr'])} | {u['retain_acc']:.3f} "
            f"| {u['forget_acc']:.3f} |"
        )
    figure = utility_figure(report)
    if figure:
        lines += ["", f"![ASR against retained accuracy](figures/{figure.name})"]
    lines += [
        "",
        "The sections after this one were measured before the rules were frozen (issue 13), with "
        "the code of their commits: there, `reach` was part of param-diff and the default "
        "deciders were not yet chosen on a development population. Their commands rerun them "
        "with today's code.",
    ]
    return "\n".join(lines) + "\n"


def utility_figure(report: dict[str, Any]) -> Path | None:
    """ASR against retained accuracy, one point per (data set, method, defence), per attack."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [u for u in report["utility"] if u["asr"]["n"]]
    if not rows:
        return None
    attacks = sorted({u["attack"] for u in rows})
    fig, axes = plt.subplots(1, len(attacks), figsize=(3.2 * len(attacks), 3.2), sharey=True)
    for ax, attack in zip(np.atleast_1d(axes), attacks, strict=True):
        for u in (u for u in rows if u["attack"] == attack):
            marker = "o" if u["defence"] == "none" else "x"
            ax.scatter(u["retain_acc"], u["asr"]["rate"], marker=marker, s=18, alpha=0.7)
        ax.set_title(attack, fontsize=9)
        ax.set_xlabel("retained accuracy")
    np.atleast_1d(axes)[0].set_ylabel("ASR (o: no defence, x: defended)")
    fig.tight_layout()
    path = DOCS / "figures" / "heldout-utility.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


BEGIN, END = "<!-- heldout: begin -->", "<!-- heldout: end -->"


def splice(section: str) -> None:
    """Put the held-out section first in docs/results.md (replacing an older one) and refresh
    its copy of docs/findings.md."""
    path = DOCS / "results.md"
    text = path.read_text() if path.is_file() else "# unleak: measured results\n"
    if BEGIN in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
    else:  # after the title and the page's opening paragraph
        title, _, body = text.partition("\n\n")
        intro, _, tail = body.partition("\n\n")
        head = f"{title}\n\n{intro}\n\n"
    path.write_text(with_findings(f"{head}{BEGIN}\n{section}{END}\n\n{tail.lstrip()}"))


if __name__ == "__main__":
    main()

"""Many forgotten classes (issue 23): the test population's `test-many-classes`.

    python -m benchmarks.subsets --many
    unleak sweep benchmarks/sweeps/test-many-classes.yaml \
        --out runs/sweeps/test-many-classes --workers 2
    python -m benchmarks.bench_many   (benchmarks/results/many_classes.json, docs/figures/
                                       many_classes_*.png, "Many forgotten classes" in results.md)

Per data set, attack reading and |F|: exact-set ASR with its 95% Wilson interval and n, mean
per-class recall (the share of the forgotten classes named) and mean precision, beside chance;
each attack's false alarms on the null models. Every attack at its frozen rule, and top-m (told
|F|) of each; no constant is chosen here.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import DOCS, ROOT, save

SWEEP = ROOT / "runs" / "sweeps" / "test-many-classes"
CONFIG = ROOT / "benchmarks" / "sweeps" / "test-many-classes.yaml"
COMMAND = (
    "unleak sweep benchmarks/sweeps/test-many-classes.yaml --out runs/sweeps/test-many-classes "
    "--workers 2"
)
ATTACKS = ("probe-reach", "wb-inversion", "bb-genetic", "param-diff", "param-dot")


def stem(dataset: str) -> str:
    return dataset.split(",")[0].rsplit("/", 1)[-1].removesuffix("_many_train.npz")


def measure() -> dict[str, Any]:
    from unleak.evaluation.metrics import wilson
    from unleak.experiments.sweep import expand, load_results, load_sweep_config

    results = load_results(SWEEP)
    rows = [r for r in results if r.attack and r.error is None]
    cells: list[dict[str, Any]] = []
    keys = sorted(
        {(r.dataset, r.label, r.n_forget) for r in rows if r.kind == "unlearned"},
        key=lambda k: (k[0], k[1], k[2]),
    )
    for dataset, label, size in keys:
        mine = [
            r
            for r in rows
            if r.kind == "unlearned" and (r.dataset, r.label, r.n_forget) == (dataset, label, size)
        ]
        hits = sum(r.hit for r in mine)
        lo, hi = wilson(hits, len(mine))
        recall = [len(set(r.predicted) & set(r.forget)) / len(r.forget) for r in mine]
        precision = [
            len(set(r.predicted) & set(r.forget)) / len(r.predicted) for r in mine if r.predicted
        ]
        cells.append(
            {
                "dataset": stem(dataset),
                "label": label,
                "n_forget": size,
                "n": len(mine),
                "asr": hits / len(mine),
                "asr_lo": lo,
                "asr_hi": hi,
                "recall": sum(recall) / len(recall),
                "precision": sum(precision) / len(precision) if precision else None,
                "chance": sum(r.chance for r in mine) / len(mine),
                "forget_acc": sum(r.forget_acc for r in mine) / len(mine),
                "retain_acc": sum(r.retain_acc for r in mine) / len(mine),
            }
        )
    nulls: dict[tuple[str, str], list[bool]] = {}
    for r in rows:
        if r.kind == "null":
            nulls.setdefault((stem(r.dataset), r.label), []).append(r.predicted_any)
    fpr = {
        f"{d}|{label}": {"k": sum(v), "n": len(v), "hi": wilson(sum(v), len(v))[1]}
        for (d, label), v in nulls.items()
    }
    return {
        "command": COMMAND,
        "runs": len({r.run_key for r in results}),
        "grid": len(expand(load_sweep_config(CONFIG))),
        "cells": cells,
        "fpr": fpr,
    }


def frozen_labels(labels: list[str]) -> list[str]:
    """Each attack's frozen reading (not its top-m), in ATTACKS order."""
    out = []
    for attack in ATTACKS:
        out += [lab for lab in labels if lab.startswith(attack) and not lab.endswith("/topm")]
    return out


def figure(d: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for dataset in dict.fromkeys(c["dataset"] for c in d["cells"]):
        cells = [c for c in d["cells"] if c["dataset"] == dataset]
        labels = frozen_labels(list(dict.fromkeys(c["label"] for c in cells)))
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for label in labels:
            mine = sorted((c for c in cells if c["label"] == label), key=lambda c: c["n_forget"])
            xs = [c["n_forget"] for c in mine]
            axes[0].plot(xs, [100 * c["asr"] for c in mine], marker="o", label=label)
            axes[1].plot(xs, [100 * c["recall"] for c in mine], marker="o", label=label)
        chance = sorted(
            (c for c in cells if c["label"].startswith("chance") and c["label"].endswith("topm")),
            key=lambda c: c["n_forget"],
        )
        if chance:
            axes[0].plot(
                [c["n_forget"] for c in chance],
                [100 * c["chance"] for c in chance],
                "k--",
                label="chance (told |F|)",
            )
        axes[0].set(xlabel="|F| (forgotten classes)", ylabel="exact-set ASR (%)", ylim=(-3, 103))
        axes[1].set(xlabel="|F| (forgotten classes)", ylabel="mean per-class recall (%)")
        axes[1].set_ylim(-3, 103)
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{dataset}: every attack at its frozen rule (test-many-classes)")
        fig.tight_layout()
        path = DOCS / "figures" / f"many_classes_{dataset}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(str(path.relative_to(ROOT)))
    return paths


def section(d: dict[str, Any], figures: list[str]) -> str:
    parts = [
        "## Many forgotten classes (issue 23)\n",
        "LeNet-5 on seeded subsets of MNIST and Fashion-MNIST (1000 training and 300 test images "
        "a class, `python -m benchmarks.subsets --many`), |F| = 1, 2, 3, 4, 5, 7 and 9, two random "
        "sets per size, seeds 1-3, the paper's five methods: part of the test population, declared "
        f"before it ran (docs/protocol.md). `{d['command']}` ({d['runs']} of {d['grid']} runs), "
        "then `python -m benchmarks.bench_many`. Cells: exact-set ASR [95% Wilson interval] "
        "(mean per-class recall), n models; top-m is told |F|. Chance: told |F|, 1 / C(K, |F|). "
        "Each attack at its frozen rule (above) and told |F| (top-m, below).\n",
    ]
    for dataset in dict.fromkeys(c["dataset"] for c in d["cells"]):
        cells = [c for c in d["cells"] if c["dataset"] == dataset]
        sizes = sorted({c["n_forget"] for c in cells})
        labels = list(dict.fromkeys(c["label"] for c in cells))
        shown = frozen_labels(labels)
        shown += [
            lab
            for lab in labels
            if lab.endswith("/topm") and lab.split("/")[0].split("[")[0] in ATTACKS
        ]
        cell = {(c["label"], c["n_forget"]): c for c in cells}
        head = "| reading | " + " | ".join(f"\\|F\\|={s}" for s in sizes) + " | FPR on nulls |"
        lines = [f"\n**{dataset}**\n", head, "|---" * (len(sizes) + 2) + "|"]
        for label in shown:
            row = []
            for s in sizes:
                c = cell.get((label, s))
                row.append(
                    "-"
                    if c is None
                    else f"{100 * c['asr']:.0f}% [{100 * c['asr_lo']:.0f}-{100 * c['asr_hi']:.0f}] "
                    f"({100 * c['recall']:.0f}%) n={c['n']}"
                )
            f = d["fpr"].get(f"{dataset}|{label}")
            fp = f"{f['k']}/{f['n']} (<= {100 * f['hi']:.0f}%)" if f and f["n"] else "-"
            lines.append(f"| {label} | " + " | ".join(row) + f" | {fp} |")
        chance = [
            next((c for c in cells if c["label"] == "chance/topm" and c["n_forget"] == s), None)
            for s in sizes
        ]
        lines.append(
            "| chance (told \\|F\\|) | "
            + " | ".join("-" if c is None else f"{100 * c['chance']:.1f}%" for c in chance)
            + " | |"
        )
        accs = [
            next((c for c in cells if c["label"] == "chance/topm" and c["n_forget"] == s), None)
            for s in sizes
        ]
        lines.append(
            "| forget / retain acc | "
            + " | ".join(
                "-" if c is None else f"{c['forget_acc']:.2f} / {c['retain_acc']:.2f}" for c in accs
            )
            + " | |"
        )
        parts.append("\n".join(lines) + "\n")
    for path in figures:
        parts.append(f"\n![{path}]({path.removeprefix('docs/')})\n")
    return "".join(parts)


def stored_section() -> str:
    """The section from benchmarks/results/many_classes.json (for a full rebuild of results.md)."""
    from benchmarks.common import load

    d = load("many_classes")
    if not d:
        return (
            "## Many forgotten classes (issue 23)\n\nNot measured yet: "
            "`python -m benchmarks.bench_many`.\n"
        )
    return section(d, d.get("figures", []))


def main() -> None:
    from benchmarks.docs import splice_section

    d = measure()
    figures = figure(d)
    d["figures"] = figures
    save("many_classes", d)
    splice_section(section(d, figures), "## Many forgotten classes", before="## ResNet-18 at CPU")


if __name__ == "__main__":
    main()

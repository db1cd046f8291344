"""ResNet-18 (batch norm) at CPU scale, the test population's `test-resnet18-cpu` (issue 23).

    python -m benchmarks.subsets
    unleak sweep benchmarks/sweeps/test-resnet18-cpu.yaml \
        --out runs/sweeps/test-resnet18-cpu --workers 2          # about 40 min on 2 cores
    python -m benchmarks.bench_resnet     (benchmarks/results/resnet18_cpu.json and the section
                                           "ResNet-18 at CPU scale" of docs/results.md)

Reads the sweep's store: every attack at its frozen rule (the sweep's default attacks), per data
set and number of forgotten classes, pooled over the five methods and per method, beside chance,
the models' efficacy and each attack's false alarms on the null models, with n.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import ROOT, save

SWEEP = ROOT / "runs" / "sweeps" / "test-resnet18-cpu"
KEEP = ["asr", "asr_lo", "asr_hi", "n", "chance", "fpr", "fpr_lo", "fpr_hi", "fpr_n"]
KEEP += ["forget_acc", "retain_acc", "rt_forget_acc"]


def measure() -> dict[str, Any]:
    from unleak.experiments.sweep import expand, load_results, load_sweep_config

    results = load_results(SWEEP)
    config = load_sweep_config(ROOT / "benchmarks" / "sweeps" / "test-resnet18-cpu.yaml")
    # each attack at its frozen rule, and chance (top-m, told |F|, is in the sweep's report)
    rows = [
        r for r in results if r.label and (not r.label.endswith("/topm") or "chance" in r.label)
    ]

    def cells(by: list[str]) -> list[dict[str, Any]]:
        from unleak.evaluation.results import Results

        df = Results(rows).summary(by=by)
        return [{k: r.get(k) for k in [*by, *KEEP]} for r in df.to_dict("records")]

    originals: dict[str, list[float]] = {}
    for r in results:  # the original's accuracy on the test images, retained and forgotten classes
        if (
            r.kind == "unlearned"
            and r.attack == "chance"
            and r.original_retain_acc == r.original_retain_acc
        ):
            originals.setdefault(r.dataset, []).append(
                (r.original_retain_acc, r.original_forget_acc)
            )
    seconds = [r.seconds for r in results if r.seconds == r.seconds]
    return {
        "command": "unleak sweep benchmarks/sweeps/test-resnet18-cpu.yaml --out "
        "runs/sweeps/test-resnet18-cpu --workers 2",
        "runs": len({r.run_key for r in results}),
        "grid": len(expand(config)),
        "by_size": cells(["dataset", "n_forget", "label"]),
        "by_method": cells(["dataset", "method", "label"]),
        "original_acc": {
            d: [round(sum(v[i] for v in vals) / len(vals), 3) for i in (0, 1)]
            for d, vals in originals.items()
        },
        "attack_seconds": round(sum(seconds), 1),
    }


def main() -> None:
    from benchmarks.docs import resnet_section, splice_section

    save("resnet18_cpu", measure())
    splice_section(resnet_section(), "## ResNet-18 at CPU scale", before="## White-box inversion")


if __name__ == "__main__":
    main()

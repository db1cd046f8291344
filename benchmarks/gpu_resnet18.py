"""Full-width ResNet-18 on CIFAR-10 and SVHN for a GPU machine (issue 23), in calls that each end
within a time budget, resumed by the next call.

    python -m benchmarks.gpu_resnet18 --budget 540     # one call (a device allows 10 minutes)
    python -m benchmarks.gpu_resnet18 --report         # benchmarks/results/gpu_resnet18.json
    python -m benchmarks.gpu_resnet18 --smoke          # the same code at toy scale on the CPU

A call records the card it runs on (``torch.cuda.get_device_name`` and ``nvidia-smi``) in
``OUT/card.json``, then runs the grids of ``benchmarks/sweeps/gpu-resnet18-{cifar10,svhn}.yaml``
one run at a time (``run_sweep(resume=True, limit=1)``: each run is one SQLite transaction, so a
call killed at its limit loses only the run in flight) while the slowest run so far still fits in
what is left of the budget, and prints how many runs are done of how many. ``--smoke`` runs a
three-run grid of the same shape (ResNet-18 at one epoch on the CPU subsets of
benchmarks/subsets.py) through the same loop, card record and report, into ``runs/gpu-smoke``:
every piece of the plan has then run on this CPU.

On a device machine (docs/results.md, "ResNet-18 at CPU scale", says what was run where):

1. here: ``python -m benchmarks.subsets --gpu`` (``runs/gpu-data``, 49 MB) and the wheels the
   machine lacks (pydantic, pydantic-core, annotated-types, typing-inspection) into ``.whl``;
2. each call carries ``runs/gpu-data``, ``.whl`` and ``runs/gpu`` (the stores so far), installs
   the wheels to /tmp/site, and runs ``PYTHONPATH=/tmp/site:src python3 -m
   benchmarks.gpu_resnet18 --budget 540 --cache /tmp/unleak-cache`` then copies
   ``runs/gpu/*/results.sqlite`` and ``card.json`` to ``$OUT``; those come back into
   ``runs/gpu`` here before the next call. A fresh machine retrains the original a run needs
   (under a minute at these sizes); finished runs are never run again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, save

GRIDS = ("gpu-resnet18-cifar10", "gpu-resnet18-svhn")


def card() -> dict[str, Any]:
    """The accelerator this call runs on (``cpu`` when there is none)."""
    import torch

    info: dict[str, Any] = {"cuda": torch.cuda.is_available(), "torch": torch.__version__}
    if info["cuda"]:
        info["name"] = torch.cuda.get_device_name(0)
        info["memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    try:
        query = "name,memory.total,driver_version"
        smi = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        info["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    except (OSError, subprocess.TimeoutExpired):
        info["nvidia_smi"] = "not available"
    info.setdefault("name", "cpu")
    return info


def grid(name: str) -> Any:
    """The sweep configuration ``name`` of benchmarks/sweeps."""
    from unleak.experiments.sweep import load_sweep_config

    return load_sweep_config(ROOT / "benchmarks" / "sweeps" / f"{name}.yaml")


def smoke_grid() -> Any:
    """Three runs of the plan's shape that a CPU runs in about a minute."""
    from benchmarks import subsets
    from unleak.experiments.sweep import SweepConfig

    subsets.write()
    data = "npz:runs/data/cifar10_cpu_train.npz,runs/data/cifar10_cpu_test.npz"
    return SweepConfig.model_validate(
        {
            "name": "gpu-smoke",
            "datasets": [data],
            "models": ["resnet18"],
            "methods": ["rt", "ft"],
            "forget_sizes": [1],
            "sets_per_size": 1,
            "seeds": [1],
            "train": {data: {"epochs": 1}},
            "unlearn": {"rt": {"epochs": 1}, "ft": {"epochs": 1}},
            "null_models": ["original"],
            "device": "cpu",
        }
    )


def run_call(
    configs: list[Any], out: Path, budget: float, cache: Path | None = None
) -> dict[str, Any]:
    """Run runs of ``configs`` in order until the next might not fit in ``budget`` seconds."""
    from unleak.experiments.sweep import check_sweep, run_sweep

    start, slowest, done_now = time.perf_counter(), 0.0, 0
    out.mkdir(parents=True, exist_ok=True)
    (out / "card.json").write_text(json.dumps(card(), indent=2) + "\n")
    status: dict[str, Any] = {}
    failed: list[str] = []
    for config in configs:
        where = out / config.name
        total = len(check_sweep(config, where))
        while True:
            left = budget - (time.perf_counter() - start)
            if done_now and slowest > left:
                break
            t = time.perf_counter()
            outcome = run_sweep(config, where, resume=True, limit=1, cache_root=cache)
            if outcome.finished == 0:  # nothing left of this grid
                break
            slowest = max(slowest, time.perf_counter() - t)
            done_now += 1
            if outcome.failed:  # recorded with its error; a later call (resume) tries it again
                failed.append(f"{config.name}: a run failed (see its store); stopped this call")
                break
        status[config.name] = {"runs": total, "done": _done(where)}
        if failed or status[config.name]["done"] < total:
            break  # this call's time is spent; the next call resumes here
    seconds = round(time.perf_counter() - start, 1)
    complete = len(status) == len(configs) and all(g["done"] == g["runs"] for g in status.values())
    return {
        "seconds": seconds,
        "runs_this_call": done_now,
        "slowest_run": round(slowest, 1),
        "grids": status,
        "failed": failed,
        "complete": complete,
    }


def _done(where: Path) -> int:
    from unleak.experiments.sweep_store import ResultStore

    if not (where / "results.sqlite").is_file():
        return 0
    store = ResultStore(where / "results.sqlite", create=False)
    try:
        return len(store.done())
    finally:
        store.close()


def report(out: Path, name: str = "gpu_resnet18") -> Path:
    """ASR per (data set, method, attack) beside chance and FPR, with the card, as JSON."""
    from unleak.experiments.sweep import load_results

    cells = []
    for sweep_dir in sorted(p for p in out.iterdir() if (p / "results.sqlite").is_file()):
        df = load_results(sweep_dir).summary(by=["dataset", "model", "method", "label"])
        keep = ["dataset", "method", "label", "asr", "asr_lo", "asr_hi", "n", "chance", "fpr"]
        keep += ["fpr_lo", "fpr_hi", "fpr_n", "forget_acc", "retain_acc"]
        cells += [
            {k: r.get(k) for k in keep} | {"sweep": sweep_dir.name} for r in df.to_dict("records")
        ]
    card_file = out / "card.json"
    payload = {
        "card": json.loads(card_file.read_text()) if card_file.is_file() else None,
        "progress": {p.name: _done(p) for p in out.iterdir() if (p / "results.sqlite").is_file()},
        "cells": cells,
    }
    return save(name, payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=540.0, help="seconds this call may use")
    parser.add_argument("--cache", type=Path, default=None, help="model cache (default: OUT)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="toy scale, on the CPU")
    parser.add_argument("--report", action="store_true", help="write the results JSON and stop")
    args = parser.parse_args()
    out = args.out or ROOT / "runs" / ("gpu-smoke" if args.smoke else "gpu")
    if args.report:
        print(report(out, "gpu_resnet18_smoke" if args.smoke else "gpu_resnet18"))
        return
    configs = [smoke_grid()] if args.smoke else [grid(g) for g in GRIDS]
    print(json.dumps(run_call(configs, out, args.budget, args.cache), indent=2))


if __name__ == "__main__":
    main()

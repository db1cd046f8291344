"""Speed of an audit of your own model (issue 21): one unlearned MNIST LeNet with the default 24
null models, on this CPU.

    python -m benchmarks.bench_byo    (benchmarks/results/byo_speed.json, "The verdict, combined"
                                       in docs/results.md reads it)

A LeNet written as a user writes it (benchmarks/nets/userlenet.py) is trained on MNIST (2 epochs,
Adam) and unlearned by ``ft`` (class 5); both are saved with ``torch.save`` and audited with
``unleak audit --model-def ... --original ... --unlearned ...`` as a user runs it. The wall time
is the command's, start-up included; the breakdown (null models, each attack) comes from the
same audit run in process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import DATA_ROOT, ROOT, save

NET = ROOT / "benchmarks" / "nets" / "userlenet.py"


def measure() -> dict[str, Any]:
    import torch

    import unleak as ul
    from benchmarks.nets.userlenet import UserLeNet

    data = ul.data.load("mnist", DATA_ROOT)
    torch.manual_seed(0)
    net = UserLeNet()
    ul.train(net, data.train, ul.TrainConfig(epochs=2, lr=2e-3, optimizer="adam", batch_size=128))
    retain, forget = data.train.split_classes([5])
    unlearned = ul.unlearn("ft", net.eval(), retain, forget, dataset="mnist", seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        torch.save(net.state_dict(), t / "original.pt")
        torch.save(unlearned.state_dict(), t / "unlearned.pt")
        cmd = [
            sys.executable, "-m", "unleak.cli", "audit", "--model-def", f"{NET}:UserLeNet",
            "--dataset", "mnist", "--data-root", str(DATA_ROOT), "--original",
            str(t / "original.pt"), "--unlearned", str(t / "unlearned.pt"), "--out", str(t / "a"),
        ]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, timeout=1800)
        wall = time.perf_counter() - start
    start = time.perf_counter()
    result = ul.audit_models(net, {"ft": unlearned}, data)
    in_process = time.perf_counter() - start
    per_attack: dict[str, float] = {}
    for r in result.rows:
        if r.attack and r.seconds == r.seconds:
            per_attack[r.attack] = per_attack.get(r.attack, 0.0) + r.seconds
    v = result.verdicts["ft"]
    return {
        "command": "python -m benchmarks.bench_byo",
        "cli_seconds": round(wall, 1),
        "in_process_seconds": round(in_process, 1),
        "attack_seconds": {k: round(s, 1) for k, s in sorted(per_attack.items())},
        "nulls_and_rest_seconds": round(in_process - sum(per_attack.values()), 1),
        "null_models": v.nulls,
        "verdict": v.to_dict(),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    save("byo_speed", measure())


if __name__ == "__main__":
    main()

"""Training accuracy and speed per data set, and the loop's overhead against a bare PyTorch loop.

python -m benchmarks.run training      (writes benchmarks/results/training.json)
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

import unleak as ul
from benchmarks.common import DATA_ROOT, save
from unleak.experiments.jobs import train_original

CIFAR = f"npz:{DATA_ROOT / 'CIFAR10' / 'cifar10_train_exact.npz'}"
SVHN = f"npz:{DATA_ROOT / 'SVHN' / 'svhn_test_exact_first10000.npz'}"

CASES = [
    # (label, data set, model, target accuracy, note)
    ("digits", "digits", "cnn", 0.97, "embedded 8x8 digits, fixed 75/25 split"),
    ("mnist", "mnist", "lenet5", 0.985, "official 60k/10k split"),
    ("fashion-mnist", "fashion-mnist", "lenet5", 0.89, "official 60k/10k split"),
    ("cifar10", CIFAR, "cnn", 0.70, "lossless training set, stratified 40k/10k split"),
    ("svhn", SVHN, "cnn", 0.85, "first 10k official test images, stratified 8k/2k split"),
]


def accuracy_runs(cases: list[tuple[str, str, str, float, str]] = CASES) -> list[dict[str, Any]]:
    out = []
    for label, dataset, model, target, note in cases:
        data = ul.data.load(dataset, DATA_ROOT)
        res = train_original(dataset=data, model=model, seed=0)
        per_epoch = [e.seconds for e in res.history.epochs]
        out.append(
            {
                "label": label,
                "model": model,
                "note": note,
                "target": target,
                "test_acc": round(res.test_acc, 4),
                "train_acc": round(res.train_acc, 4),
                "passed": res.test_acc >= target,
                "epochs": res.config.epochs,
                "seconds": round(res.seconds, 1),
                "seconds_per_epoch": round(sum(per_epoch) / len(per_epoch), 2),
                "config": res.config.model_dump(),
                "arch_args": _args(res.model),
                "command": "python -m benchmarks.run training",
            }
        )
    return out


def _args(model: torch.nn.Module) -> dict[str, Any]:
    args = model.unleak_arch["arch_args"]
    return {k: v for k, v in args.items() if k not in ("mean", "std")}


def bare_loop(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bs: int, lr: float, seed: int
) -> float:
    """The loop a PyTorch user writes by hand: same optimiser, schedule-free, same batches."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    start = time.perf_counter()
    for idx in torch.randperm(len(y), generator=gen).split(bs):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def throughput(repeats: int = 3) -> dict[str, Any]:
    """unleak.fit against the bare loop: LeNet-5 on MNIST, one epoch each, alternated."""
    data = ul.data.load("mnist", DATA_ROOT)
    cfg = ul.TrainConfig(epochs=1, batch_size=128, lr=0.05, schedule="constant")
    ours, bare = [], []
    for r in range(repeats):
        m = ul.models.build("lenet5", data, seed=r)
        ours.append(ul.fit(m, data.train, cfg).history.seconds)
        m = ul.models.build("lenet5", data, seed=r)
        bare.append(bare_loop(m, data.train.x, data.train.y, 128, 0.05, r))
    best_ours, best_bare = min(ours), min(bare)
    n = len(data.train)
    return {
        "model": "lenet5",
        "data": "mnist train (60k)",
        "batch_size": 128,
        "repeats": repeats,
        "unleak_seconds": [round(s, 2) for s in ours],
        "bare_seconds": [round(s, 2) for s in bare],
        "unleak_samples_per_s": round(n / best_ours),
        "bare_samples_per_s": round(n / best_bare),
        "overhead": round(best_ours / best_bare - 1, 4),
        "within_10_percent": best_ours <= 1.1 * best_bare,
    }


def main() -> None:
    payload = {"throughput": throughput(), "accuracy": accuracy_runs()}
    print(save("training", payload))


if __name__ == "__main__":
    main()

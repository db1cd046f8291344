"""Seeded CPU-sized subsets of CIFAR-10 and SVHN for the ResNet-18 cells (issue 23).

    python -m benchmarks.subsets        # runs/data/{cifar10,svhn}_cpu_{train,test}.npz

From the lossless CIFAR-10 training set and the 10,000 official SVHN test images: per class, 250
training and 100 test images drawn with seed 0 (disjoint), in class order. The files are data:
never committed (``*.npz`` is ignored); this script makes the same bytes on every machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.common import DATA_ROOT, ROOT

OUT = ROOT / "runs" / "data"
SOURCES = {
    "cifar10": "CIFAR10/cifar10_train_exact.npz",
    "svhn": "SVHN/svhn_test_exact_first10000.npz",
}
TRAIN, TEST, SEED = 250, 100, 0


def write(out: Path = OUT, root: Path = DATA_ROOT) -> dict[str, Path]:
    """Write both subsets (if not there yet); returns the train file of each."""
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, rel in SOURCES.items():
        train, test = out / f"{name}_cpu_train.npz", out / f"{name}_cpu_test.npz"
        made[name] = train
        if train.is_file() and test.is_file():
            continue
        with np.load(root / rel) as z:
            x, y = z["x"], z["y"].astype(np.int64)
        rng = np.random.default_rng(SEED)
        picks = [rng.permutation(np.flatnonzero(y == c))[: TRAIN + TEST] for c in range(10)]
        tr = np.concatenate([p[:TRAIN] for p in picks])
        te = np.concatenate([p[TRAIN:] for p in picks])
        np.savez(train, x=x[tr], y=y[tr])
        np.savez(test, x=x[te], y=y[te])
    return made


if __name__ == "__main__":
    for name, path in write().items():
        print(f"{name}: {path}")

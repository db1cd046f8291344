"""Seeded CPU-sized subsets of CIFAR-10 and SVHN for the ResNet-18 cells (issue 23).

    python -m benchmarks.subsets        # runs/data/{cifar10,svhn}_cpu_{train,test}.npz
    python -m benchmarks.subsets --gpu  # runs/gpu-data/{cifar10,svhn}_gpu.npz (the GPU plan's)
    python -m benchmarks.subsets --many # runs/data/{mnist,fashion}_many_{train,test}.npz

``--many``: the many-forgotten-classes sweep's files, from the official MNIST and Fashion-MNIST
files: per class 1000 training images (of the training set) and 300 test images (of the test
set), drawn with seed 0.

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
GPU_OUT, GPU_PER_CLASS = ROOT / "runs" / "gpu-data", 800  # 2 x 24.6 MB: both travel in one call


def _per_class(y: np.ndarray, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(SEED)
    return [rng.permutation(np.flatnonzero(y == c))[:n] for c in range(10)]


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
        picks = _per_class(y, TRAIN + TEST)
        tr = np.concatenate([p[:TRAIN] for p in picks])
        te = np.concatenate([p[TRAIN:] for p in picks])
        np.savez(train, x=x[tr], y=y[tr])
        np.savez(test, x=x[te], y=y[te])
    return made


def write_gpu(out: Path = GPU_OUT, root: Path = DATA_ROOT) -> dict[str, Path]:
    """The GPU plan's files: up to 800 images a class of each source, one file each (the sweep
    holds a stratified 20% out), small enough to travel to a device machine together."""
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, rel in SOURCES.items():
        path = made[name] = out / f"{name}_gpu.npz"
        if path.is_file():
            continue
        with np.load(root / rel) as z:
            x, y = z["x"], z["y"].astype(np.int64)
        index = np.sort(np.concatenate(_per_class(y, GPU_PER_CLASS)))
        np.savez(path, x=x[index], y=y[index])
    return made


MANY = {"mnist": "mnist", "fashion": "fashion-mnist"}
MANY_TRAIN, MANY_TEST = 1000, 300


def write_many(out: Path = OUT, root: Path = DATA_ROOT) -> dict[str, Path]:
    """The many-forgotten-classes sweep's files (see the module docstring)."""
    from unleak.data import load

    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for name, dataset in MANY.items():
        train, test = out / f"{name}_many_train.npz", out / f"{name}_many_test.npz"
        made[name] = train
        if train.is_file() and test.is_file():
            continue
        data = load(dataset, root)
        for split, n, path in ((data.train, MANY_TRAIN, train), (data.test, MANY_TEST, test)):
            x = (split.x.numpy() * 255).round().astype(np.uint8)  # the official bytes again
            y = split.y.numpy().astype(np.int64)
            index = np.concatenate(_per_class(y, n))
            np.savez(path, x=x[index], y=y[index])
    return made


if __name__ == "__main__":
    import sys

    writer = write_gpu if "--gpu" in sys.argv else write_many if "--many" in sys.argv else write
    for name, path in writer().items():
        print(f"{name}: {path}")

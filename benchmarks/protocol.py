"""The held-out protocol in one command (docs/protocol.md):

    python -m benchmarks.run protocol      # about 8 hours on a 2-core CPU; resumable

1. the development sweeps (dev-digits, dev-mnist);
2. ``calibrate``: every attack's constants chosen on them alone, written to
   benchmarks/results/calibration.json (the code's defaults must agree: tests/test_protocol.py);
3. the test sweeps (test-methods, test-archs, test-defences, test-defences-fashion, test-nulls,
   the grids mnist and fashion-mnist, test-resnet18-cpu), never seen by step 2;
4. ``heldout``: the frozen rules replayed on both populations -> benchmarks/results/heldout.json,
   rendered at the top of docs/results.md.

Every sweep resumes where it stopped, so a killed run of this command loses at most the runs in
flight.
"""

from __future__ import annotations

from benchmarks import calibrate, heldout, subsets
from benchmarks.common import ROOT
from unleak.experiments.sweep import load_sweep_config, run_sweep

DEVELOPMENT = ("dev-digits", "dev-mnist")
TEST = (
    "test-archs",
    "test-methods",
    "test-defences",
    "test-defences-fashion",
    "test-nulls",
    "mnist",
    "fashion-mnist",
    "test-resnet18-cpu",
    "test-many-classes",
)


def sweep(name: str, workers: int = 2) -> None:
    config = load_sweep_config(ROOT / "benchmarks" / "sweeps" / f"{name}.yaml")
    outcome = run_sweep(config, ROOT / "runs" / "sweeps" / name, workers=workers, resume=True)
    print(f"{name}: {outcome.finished} runs now, {outcome.skipped} before, {outcome.total} in all")


def main() -> None:
    for name in DEVELOPMENT:
        sweep(name)
    calibrate.main()
    subsets.write()  # the CPU-sized CIFAR-10 and SVHN files test-resnet18-cpu reads
    subsets.write_many()  # the MNIST and Fashion-MNIST subsets of test-many-classes
    for name in TEST:
        sweep(name)
    heldout.main()


if __name__ == "__main__":
    main()

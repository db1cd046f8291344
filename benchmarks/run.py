"""Run benchmarks and rebuild docs/results.md: ``python -m benchmarks.run [NAME ...] [--docs]``.

Names: training, demo, audit_mnist, miface, variants (see each module). With no name, every
benchmark runs (this takes about two hours on a 2-core CPU); ``--docs`` alone only rebuilds
docs/results.md from the JSON already in benchmarks/results/ and the sweeps under runs/sweeps/.
The sweeps themselves run with ``unleak sweep`` (see the head of each benchmarks/sweeps/*.yaml).
"""

from __future__ import annotations

import importlib
import sys

MODULES = {
    "training": "benchmarks.bench_training",
    "demo": "benchmarks.bench_demo",
    "audit_mnist": "benchmarks.bench_demo",
    "miface": "benchmarks.bench_miface",
    "variants": "benchmarks.bench_variants",
}


def main(argv: list[str]) -> None:
    names = [a for a in argv if not a.startswith("--")]
    if "--docs" not in argv:
        for name in names or list(MODULES):
            mod = importlib.import_module(MODULES[name])
            getattr(mod, "main_" + name, mod.main)()
    from benchmarks.docs import write_results

    print(write_results())


if __name__ == "__main__":
    main(sys.argv[1:])

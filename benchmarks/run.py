"""Run benchmarks and rebuild docs/results.md: ``python -m benchmarks.run [NAME ...] [--docs]``.

Names: training, demo, audit_mnist, miface, variants, protocol (the held-out protocol: every
sweep, calibrate, heldout; about 8 hours on a 2-core CPU), calibrate, heldout (see each module).
With no name, every benchmark but the protocol runs; ``--docs`` alone only rebuilds
docs/results.md from the JSON already in benchmarks/results/ and the sweeps under runs/sweeps/.
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
    "protocol": "benchmarks.protocol",
    "calibrate": "benchmarks.calibrate",
    "heldout": "benchmarks.heldout",
}


def main(argv: list[str]) -> None:
    names = [a for a in argv if not a.startswith("--")]
    if "--docs" not in argv:
        for name in names or [n for n in MODULES if n not in ("protocol", "calibrate", "heldout")]:
            mod = importlib.import_module(MODULES[name])
            getattr(mod, "main_" + name, mod.main)()
    from benchmarks.docs import write_results

    print(write_results())


if __name__ == "__main__":
    main(sys.argv[1:])

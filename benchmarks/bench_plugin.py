"""A method of your own beside the paper's five (issue 22): the README's one command, timed.

    python -m benchmarks.bench_plugin     (benchmarks/results/my_method.json and the section
                                           "Your own method" of docs/results.md; ~8 min)

Runs ``unleak sweep examples/my_method.yaml --workers 2`` into a fresh folder (a fresh model
cache: every model is trained), and records its wall time and the leakage table it prints: per
method and attack the exact-set ASR with its 95% interval and n, chance, efficacy, and each
attack's false alarms on the null models.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, save

COMMAND = [
    "unleak",
    "sweep",
    "examples/my_method.yaml",
    "--out",
    "runs/my-method",
    "--workers",
    "2",
]


def measure() -> dict[str, Any]:
    from unleak.experiments.sweep import load_results

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "my-method"
        cmd = [sys.executable, "-m", "unleak.cli", *COMMAND[1:4], str(out), *COMMAND[5:]]
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, env=_env(), check=False
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        results = load_results(out)
    df = results.summary(by=["dataset", "model", "method", "label"])
    keep = ["method", "label", "asr", "asr_lo", "asr_hi", "n", "hits", "chance", "fpr"]
    keep += ["fpr_lo", "fpr_hi", "fpr_n", "forget_acc", "retain_acc", "rt_forget_acc"]
    rows = [{k: r.get(k) for k in keep} for r in df.to_dict("records")]
    return {
        "command": " ".join(COMMAND),
        "seconds": round(seconds, 1),
        "runs": len({r.run_key for r in results}),
        "rows": rows,
        "printed": proc.stdout,
    }


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": "200"}  # the sweep's model cache is under its --out


def main() -> None:
    from benchmarks.docs import plugin_section, splice_section

    save("my_method", measure())
    splice_section(plugin_section(), "## Your own method", before="## White-box inversion")


if __name__ == "__main__":
    main()
